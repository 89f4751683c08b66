{{/*
destate values plumbing: library defaults, the deep merge that lays a chart's values
over them, and the argument guard every template calls first.

Every destate template takes ONE dict argument:
  ctx        (required) the root context `$`
  values     (optional) the values tree to read (same shape as a chart's top level:
             image, workload, persistence, config, topology, session, connection,
             network);
             default `.ctx.Values`. The embedded Redis passes its own tree here.
  component  (optional) a name suffix ("redis", "envoy"): resource names become
             FULLNAME-COMPONENT and labels get app.kubernetes.io/component.
  path       (optional) prefix for error messages when `values` is not the chart
             root, e.g. "session.store.redis." so errors still name the real key.
plus the template's own named keys, listed in its usage header.
*/}}

{{/*
destate.values.defaults — the library's default values tree (YAML string): every area's
destate.<area>.defaults, each defined next to its templates in _<area>.tpl.
Charts only need to set what differs; their values.yaml should still show every key.
*/}}
{{- define "destate.values.defaults" -}}
{{ include "destate.names.defaults" . }}
{{ include "destate.workload.defaults" . }}
{{ include "destate.persistence.defaults" . }}
{{ include "destate.config.defaults" . }}
{{ include "destate.topology.defaults" . }}
{{ include "destate.session.defaults" . }}
{{ include "destate.connection.defaults" . }}
{{ include "destate.network.defaults" . }}
{{- end -}}

{{/*
destate.values.merge — deep merge of two maps; keys of the second win, maps merge
recursively, lists and scalars replace (false, 0 and "" DO override, unlike sprig's
mergeOverwrite). Usage: fromJson (include "destate.values.merge" (list $base $over))
*/}}
{{- define "destate.values.merge" -}}
{{- $out := deepCopy (index . 0) -}}
{{- range $k, $v := (index . 1) -}}
{{- $cur := get $out $k -}}
{{- if and (kindIs "map" $v) (kindIs "map" $cur) -}}
{{- $_ := set $out $k (fromJson (include "destate.values.merge" (list $cur $v))) -}}
{{- else if not (kindIs "invalid" $v) -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
destate.values.get — the effective values tree (defaults ⊕ `.values` or `.ctx.Values`),
as JSON; merged once per render and values tree (cached on ctx under destateValues).
Usage: {{ $v := fromJson (include "destate.values.get" .) }}
*/}}
{{- define "destate.values.get" -}}
{{- $src := .ctx.Values -}}
{{- $key := "." -}}
{{- if hasKey . "values" -}}
{{- $src = .values -}}
{{- $key = toJson .values | sha256sum -}}
{{- end -}}
{{- if not (hasKey .ctx "destateValues") -}}
{{- $_ := set .ctx "destateValues" dict -}}
{{- end -}}
{{- $cache := get .ctx "destateValues" -}}
{{- if not (hasKey $cache $key) -}}
{{- $merged := include "destate.values.merge" (list (fromYaml (include "destate.values.defaults" .)) $src) -}}
{{- if eq $key "." -}}
{{- $merged = include "destate.values.gate" (dict "ctx" .ctx "values" (fromJson $merged)) -}}
{{- end -}}
{{- $_ := set $cache $key $merged -}}
{{- end -}}
{{- get $cache $key -}}
{{- end -}}

{{/*
destate.values.optionalAreas — internal: the areas a chart may leave out (JSON list). names,
image and workload are always on.
*/}}
{{- define "destate.values.optionalAreas" -}}
{{- toJson (list "persistence" "config" "topology" "session" "connection" "network") -}}
{{- end -}}

{{/*
destate.values.areas — the areas the chart uses (JSON list), listed ONCE in its Chart.yaml:
  annotations:
    destate/areas: config topology session network
(names separated by spaces or commas; names, image and workload are always on). An area
not listed is off by construction: the chart's values get its destate.<area>.off overlay
(persistence.enabled false, session.mode none, connection.mode none, no config files,
no PodDisruptionBudget, no NetworkPolicy), destate.app.render renders none of its resources, and
`python -m destate_tools.schemabuild` leaves its keys out of values.schema.json. Without the annotation
every area is on. Only the chart's own values tree is gated: a component's tree passed
as `values` (the embedded Redis, the Envoy front proxy) says for itself what it uses.
Keys: ctx.
*/}}
{{- define "destate.values.areas" -}}
{{- $optional := fromJsonArray (include "destate.values.optionalAreas" .) -}}
{{- $listed := "" -}}
{{- with .ctx.Chart.Annotations -}}{{- $listed = index . "destate/areas" | default "" -}}{{- end -}}
{{- if not $listed -}}
{{- toJson (concat (list "names" "image" "workload") $optional) -}}
{{- else -}}
{{- $known := concat (list "names" "image" "workload") $optional -}}
{{- $areas := list "names" "image" "workload" -}}
{{- range splitList " " (replace "," " " $listed) -}}
{{- with trim . -}}
{{- if not (has . $known) -}}
{{- fail (printf "destate: Chart.yaml annotation destate/areas names an unknown area %q (known: %s)" . (join ", " $known)) -}}
{{- end -}}
{{- if not (has . $areas) -}}{{- $areas = append $areas . -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $areas -}}
{{- end -}}
{{- end -}}

{{/*
destate.values.gate — internal: the values tree `values` with the off overlay (destate.<area>.off) of
every area the chart does not list (JSON). destate.values.get applies it to the chart's
own values; destate.app.render applies it to the tree a chart passes as `values`.
Keys: ctx, values.
*/}}
{{- define "destate.values.gate" -}}
{{- $out := .values -}}
{{- $on := fromJsonArray (include "destate.values.areas" (dict "ctx" .ctx)) -}}
{{- range $area := fromJsonArray (include "destate.values.optionalAreas" .) -}}
{{- if not (has $area $on) -}}
{{- $out = fromJson (include "destate.values.merge" (list $out (fromYaml (include (printf "destate.%s.off" $area) .)))) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
destate.values.areaOn — "true" when the chart uses area `area` (see destate.values.areas), else "".
Keys: ctx, area. Example: {{ if include "destate.values.areaOn" (dict "ctx" $ "area" "session") }}
*/}}
{{- define "destate.values.areaOn" -}}
{{- if has .area (fromJsonArray (include "destate.values.areas" (dict "ctx" .ctx))) -}}true{{- end -}}
{{- end -}}

{{/*
destate.args.check — fails when a template's dict argument lacks ctx or carries a key
the template does not know (a typo'd key must never be ignored silently).
Usage: {{- include "destate.args.check" (list . "destate.x.y" (list "extraKey" ...)) }}
The common keys ctx, values, component and path are always allowed.
*/}}
{{- define "destate.args.check" -}}
{{- $args := index . 0 -}}
{{- $name := index . 1 -}}
{{- $allowed := concat (list "ctx" "values" "component" "path") (index . 2) -}}
{{- if not (kindIs "map" $args) -}}
{{- fail (printf "destate: %s takes a dict argument with ctx (got %s)" $name (kindOf $args)) -}}
{{- end -}}
{{- if not (hasKey $args "ctx") -}}
{{- fail (printf "destate: %s needs the key ctx (the root context $)" $name) -}}
{{- end -}}
{{- range $k := keys $args | sortAlpha -}}
{{- if not (has $k $allowed) -}}
{{- fail (printf "destate: %s got an unknown argument %q (allowed: %s)" $name $k (join ", " $allowed)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

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
{{ template "destate.names.defaults" . }}
{{ template "destate.workload.defaults" . }}
{{ template "destate.persistence.defaults" . }}
{{ template "destate.config.defaults" . }}
{{ template "destate.topology.defaults" . }}
{{ template "destate.session.defaults" . }}
{{ template "destate.connection.defaults" . }}
{{ template "destate.network.defaults" . }}
{{- end -}}

{{/*
destate.values.merge — deep merge of two maps; keys of the second win, maps merge
recursively, lists and scalars replace (false, 0 and "" DO override, unlike sprig's
mergeOverwrite). Usage: fromJson (include "destate.values.merge" (list $base $over))
*/}}
{{- define "destate.values.merge" -}}
{{- $out := deepCopy (index . 0) -}}
{{- template "destate.values.mergeInto" (list $out (index . 1)) -}}
{{- toJson $out -}}
{{- end -}}

{{/*
destate.values.mergeInto — internal: destate.values.merge in place: lays map `over` onto map
`base` (changed; maps of `over` are put in by reference), without the JSON round trip per
level. Usage: include "destate.values.mergeInto" (list $base $over)
*/}}
{{- define "destate.values.mergeInto" -}}
{{- $out := index . 0 -}}
{{- range $k, $v := (index . 1) -}}
{{- if kindIs "map" $v -}}
{{- $cur := get $out $k -}}
{{- if kindIs "map" $cur -}}
{{- /* an empty map changes nothing: no call for it */ -}}
{{- if $v -}}{{- template "destate.values.mergeInto" (list $cur $v) -}}{{- end -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- else if kindIs "invalid" $v -}}
{{- /* null: the base keeps its value (an `if` without `not`: one call less per key) */ -}}
{{- else -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.values.get — the effective values tree (defaults ⊕ `.values` or `.ctx.Values`),
as JSON (for charts; the library's own templates read the tree with destate.values.key).
Usage: {{ $v := fromJson (include "destate.values.get" .) }}
*/}}
{{- define "destate.values.get" -}}
{{- toJson (include "destate.values.key" . | get .ctx.destateValues) -}}
{{- end -}}

{{/*
destate.values.key — internal: the effective values tree (defaults ⊕ `.values` or
`.ctx.Values`; the chart's own tree gated by its areas, see destate.values.gate) is merged
ONCE per render and tree into a cache on the root context, .ctx.destateValues; this
prints its key there.
Read the tree without a JSON round trip:
  {{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
The tree is shared by every template of the render: read it, never change it (copy first).
A tree passed as `values` is found by identity (printf "%p"; the cache keeps it alive, so
its address is never reused), else by content (a tree rebuilt equal merges once too).
The chart's own tree is `.ctx.Values`, or, when its Chart.yaml names one with the
annotation destate/values, the JSON that chart template prints from the root context (a
chart whose values derive others, e.g. mysql's image from its flavor: one tree, merged and
validated once, instead of a second tree passed as `values`).
Keys: ctx, values.
*/}}
{{- define "destate.values.key" -}}
{{- /* dozens of calls per render, nearly all finding the tree built: the tests on that
path are `if hasKey` with an empty branch, not `if not (hasKey …)` (one call less) */ -}}
{{- if hasKey .ctx "destateValues" -}}
{{- else -}}
{{- $_ := set .ctx "destateValues" dict -}}
{{- $_ := set .ctx "destateValueSources" dict -}}
{{- end -}}
{{- $cache := .ctx.destateValues -}}
{{- $key := "." -}}
{{- if hasKey . "values" -}}
{{- $key = printf "%p" .values -}}
{{- if hasKey $cache $key -}}
{{- else -}}
{{- $byContent := toJson .values | sha256sum -}}
{{- if not (hasKey $cache $byContent) -}}
{{- template "destate.values.build" (dict "ctx" .ctx "src" .values "key" $byContent) -}}
{{- end -}}
{{- $_ := set $cache $key (get $cache $byContent) -}}
{{- $_ := set .ctx.destateValueSources $key .values -}}
{{- end -}}
{{- else if hasKey $cache $key -}}
{{- else -}}
{{- $src := .ctx.Values -}}
{{- $fresh := false -}}
{{- with .ctx.Chart.Annotations -}}{{- with index . "destate/values" -}}
{{- $json := include . $.ctx -}}
{{- if not (hasPrefix "{" $json) -}}
{{- fail (printf "destate: Chart.yaml annotation destate/values names %q, which must print the values tree as a JSON object (got %q)" . ($json | trunc 40)) -}}
{{- end -}}
{{- $src = fromJson $json -}}
{{- $fresh = true -}}
{{- end -}}{{- end -}}
{{- template "destate.values.build" (dict "ctx" .ctx "src" $src "key" $key "gate" true "fresh" $fresh) -}}
{{- end -}}
{{- $key -}}
{{- end -}}

{{/*
destate.values.build — internal: merges the defaults and `src` (gated when `gate`) into
.ctx.destateValues under `key`. `src` goes through JSON first, which gives the tree the
types charts have always seen (numbers are float64) and shares nothing with `src`; the
defaults are a fresh tree of the same types, parsed from their YAML once per render (a
second tree parses the JSON kept under .ctx.destateValueSources, five times cheaper), and
so is the gate's overlay.
Keys: ctx, src, key, gate, fresh (src was just parsed from JSON and is used nowhere else).
*/}}
{{- define "destate.values.build" -}}
{{- $sources := .ctx.destateValueSources -}}
{{- $merged := dict -}}
{{- if hasKey $sources "defaults" -}}
{{- $merged = fromJson $sources.defaults -}}
{{- else -}}
{{- $merged = fromYaml (include "destate.values.defaults" .) -}}
{{- $_ := set $sources "defaults" (toJson $merged) -}}
{{- end -}}
{{- /* a tree just parsed from JSON (destate/values) is already a fresh copy */ -}}
{{- $src := .src -}}
{{- if not .fresh -}}{{- $src = fromJson (toJson .src) -}}{{- end -}}
{{- template "destate.values.mergeInto" (list $merged $src) -}}
{{- if .gate -}}
{{- template "destate.values.gateInto" (dict "ctx" .ctx "values" $merged) -}}
{{- end -}}
{{- $_ := set .ctx.destateValues .key $merged -}}
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
{{- /* asked by the gate, the validation and charts: read once per render */ -}}
{{- if not (hasKey .ctx "destateAreas") -}}
{{- $_ := set .ctx "destateAreas" (include "destate.values.areasOnce" .) -}}
{{- end -}}
{{- .ctx.destateAreas -}}
{{- end -}}

{{/*
destate.values.areasOnce — internal: destate.values.areas without the per-render memo.
*/}}
{{- define "destate.values.areasOnce" -}}
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
{{- $out := fromJson (toJson .values) -}}
{{- template "destate.values.gateInto" (dict "ctx" .ctx "values" $out) -}}
{{- toJson $out -}}
{{- end -}}

{{/*
destate.values.gateInto — internal: destate.values.gate in place (`values` is changed).
Keys: ctx, values.
*/}}
{{- define "destate.values.gateInto" -}}
{{- $on := fromJsonArray (include "destate.values.areas" (dict "ctx" .ctx)) -}}
{{- range $area := fromJsonArray (include "destate.values.optionalAreas" .) -}}
{{- if not (has $area $on) -}}
{{- template "destate.values.mergeInto" (list $.values (fromYaml (include (printf "destate.%s.off" $area) $))) -}}
{{- end -}}
{{- end -}}
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
Usage: {{- template "destate.args.check" (list . "destate.x.y" (list "extraKey" ...)) }}
The common keys ctx, values, component and path are always allowed.
*/}}
{{- define "destate.args.check" -}}
{{- /* this runs on every include of a public template: the passing path makes as few
calls as it can (one test of the argument, the name and the allowed keys read only when
needed, the common keys left out in one call) */ -}}
{{- $args := index . 0 -}}
{{- if not (and (kindIs "map" $args) (hasKey $args "ctx")) -}}
{{- if not (kindIs "map" $args) -}}
{{- fail (printf "destate: %s takes a dict argument with ctx (got %s)" (index . 1) (kindOf $args)) -}}
{{- end -}}
{{- fail (printf "destate: %s needs the key ctx (the root context $)" (index . 1)) -}}
{{- end -}}
{{- /* range visits a map's keys in sorted order: the first unknown key is reported */ -}}
{{- range $k, $_ := omit $args "ctx" "values" "component" "path" -}}
{{- if has $k (index $ 2) -}}
{{- /* allowed */ -}}
{{- else -}}
{{- fail (printf "destate: %s got an unknown argument %q (allowed: %s)" (index $ 1) $k (join ", " (concat (list "ctx" "values" "component" "path") (index $ 2)))) -}}
{{- end -}}
{{- end -}}
{{- end -}}

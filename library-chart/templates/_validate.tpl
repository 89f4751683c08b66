{{/*
Validation: fail early, with one message that names the value path:
  destate: <path> must ... (got <value>)
Each area has destate.validate.<area>; destate.validate.all runs them all (the
workload templates call it first). Keys: ctx, values, path (prefix for messages, e.g.
"session.store.redis." for the embedded Redis).
The JSON schemas (schema/*.json) reject unknown keys and wrong types before templates
run; these checks cover what a schema cannot say well (cross-field rules) and keep
charts safe when rendered without a schema.
*/}}

{{/*
destate.validate.fail — internal: fail with "destate: PREFIX+PATH must RULE (got VALUE)".
Usage: include "destate.validate.fail" (list $prefix "a.b" "be >= 0" "-1")
*/}}
{{- define "destate.validate.fail" -}}
{{- fail (printf "destate: %s%s must %s (got %s)" (index . 0) (index . 1) (index . 2) (index . 3)) -}}
{{- end -}}

{{/*
destate.validate.enum — internal: fail unless the value is one of the allowed strings.
Usage: include "destate.validate.enum" (list $prefix "a.mode" $value (list "x" "y"))
*/}}
{{- define "destate.validate.enum" -}}
{{- $path := index . 0 -}}{{- $key := index . 1 -}}{{- $val := index . 2 -}}{{- $allowed := index . 3 -}}
{{- if not (has ($val | toString) $allowed) -}}
{{- template "destate.validate.fail" (list $path $key (printf "be one of %s" (join "|" $allowed)) (printf "%q" ($val | toString))) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.re — internal: the named pattern (RE2, the same language as in
schema/*.json) that every value reaching a name, a path, a shell script, SQL or generated
config must match. Where the schema counts repetitions ({0,61}, {0,127}, {8,128}) the
pattern here says `*` and destate.validate.match bounds the length: RE2 unrolls a count
into as many states, and regexMatch compiles its pattern on every call.
Usage: include "destate.validate.re" "dnsSubdomain"
*/}}
{{- define "destate.validate.re" -}}
{{- /* one `if` per name: only the pattern asked for is built (this runs for every check) */ -}}
{{- $seg := `\.?[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*` -}}
{{- $dns := `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*` -}}
{{- if eq . "dnsLabel" -}}^[a-z0-9]([-a-z0-9]*[a-z0-9])?$
{{- else if eq . "dnsSubdomain" -}}{{ printf "^%s$" $dns }}
{{- else if eq . "hostname" -}}{{ printf `^(\*\.)?%s$` $dns }}
{{- else if eq . "absPath" -}}{{ printf "^(/%s)+/?$" $seg }}
{{- else if eq . "relPath" -}}{{ printf "^%s(/%s)*$" $seg $seg }}
{{- else if eq . "key" -}}^[-._a-zA-Z0-9]+$
{{- else if eq . "envName" -}}^[A-Za-z_][A-Za-z0-9_]*$
{{- else if eq . "labelKey" -}}{{ printf `^(%s/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$` $dns }}
{{- else if eq . "ipAddress" -}}^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$
{{- else if eq . "urlPath" -}}^/[A-Za-z0-9._~/-]*$
{{- else if eq . "cookieName" -}}^[A-Za-z0-9_.-]+$
{{- else if eq . "imageRepository" -}}^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$
{{- else if eq . "imageTag" -}}^[A-Za-z0-9_][A-Za-z0-9_.-]*$
{{- else if eq . "imageDigest" -}}^[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$
{{- else if eq . "urlSafePassword" -}}^[A-Za-z0-9._~-]{8}[A-Za-z0-9._~-]*$
{{- else -}}
{{- fail (printf "destate: no pattern %q" .) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.match — internal: fail unless the value (as a string) matches the named
pattern (destate.validate.re) and fits 253 characters (63 for a dnsLabel, 128 for an
imageTag or a urlSafePassword); RULE says what
it must be. Empty values are checked too: call it under `with` for optional values.
Usage: include "destate.validate.match" (list $prefix "a.path" $value "absPath" "be ...")
*/}}
{{- define "destate.validate.match" -}}
{{- $val := index . 2 | toString -}}
{{- $name := index . 3 -}}
{{- $max := get (dict "dnsLabel" 63 "imageTag" 128 "urlSafePassword" 128) $name | default 253 -}}
{{- if or (not (regexMatch (include "destate.validate.re" $name) $val)) (gt (len $val) $max) -}}
{{- template "destate.validate.fail" (list (index . 0) (index . 1) (index . 4) (printf "%q" $val)) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.duration — internal: fail unless the value is an Envoy duration in seconds
("1s", "0.25s"; nothing else can reach envoy.yaml); with `positive`, also > 0s.
Usage: include "destate.validate.duration" (list $prefix "a.timeout" $value true)
*/}}
{{- define "destate.validate.duration" -}}
{{- $path := index . 0 -}}{{- $key := index . 1 -}}{{- $val := index . 2 | toString -}}
{{- /* 1-9 digits, optionally . and 1-9 more: the lengths are checked here, since RE2 unrolls {1,9} */ -}}
{{- $ok := regexMatch "^[0-9]+([.][0-9]+)?s$" $val -}}
{{- if $ok -}}{{- range splitList "." (trimSuffix "s" $val) -}}{{- if gt (len .) 9 -}}{{- $ok = false -}}{{- end -}}{{- end -}}{{- end -}}
{{- if not $ok -}}
{{- template "destate.validate.fail" (list $path $key "be a duration in seconds such as 10s or 0.25s" (printf "%q" $val)) -}}
{{- else if and (index . 3) (not (regexMatch "[1-9]" $val)) -}}
{{- template "destate.validate.fail" (list $path $key "be a duration > 0s" (printf "%q" $val)) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.intRange — internal: fail unless the value is an integer in min..max.
Usage: include "destate.validate.intRange" (list $prefix "a.count" $value 1 100)
*/}}
{{- define "destate.validate.intRange" -}}
{{- $path := index . 0 -}}{{- $key := index . 1 -}}{{- $val := index . 2 -}}
{{- $min := index . 3 | int64 -}}{{- $max := index . 4 | int64 -}}
{{- /* an integer: an int kind, or a float64 (every number of a values tree) that int64
keeps whole; no regexp to compile on every call */ -}}
{{- $int := has (kindOf $val) (list "float64" "int" "int64" "int32" "int16" "int8" "uint" "uint64" "uint32" "uint16" "uint8") -}}
{{- if and $int (kindIs "float64" $val) -}}{{- $int = eq (float64 (int64 $val)) $val -}}{{- end -}}
{{- if or (not $int) (lt (int64 $val) $min) (gt (int64 $val) $max) -}}
{{- template "destate.validate.fail" (list $path $key (printf "be an integer in %d..%d" $min $max) (toJson $val)) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.once — internal: "true" the first time a render asks for the checks `area`
of a values tree (and path prefix), "" after that: each destate.validate.<area> starts with
it, so checks that many templates call for safety run once per render and tree (their
outcome depends on nothing else). Usage:
  {{- if include "destate.validate.once" (list . "persistence") -}} ...checks... {{- end -}}
*/}}
{{- define "destate.validate.once" -}}
{{- $args := index . 0 -}}
{{- if hasKey $args.ctx "destateValidated" -}}
{{- else -}}
{{- $_ := set $args.ctx "destateValidated" dict -}}
{{- end -}}
{{- $tree := "." -}}
{{- if hasKey $args "values" -}}{{- $tree = include "destate.values.key" (pick $args "ctx" "values") -}}{{- end -}}
{{- $key := printf "%s %s %s" (index . 1) $tree ($args.path | default "") -}}
{{- if hasKey $args.ctx.destateValidated $key -}}
{{- /* checked already: prints nothing */ -}}
{{- else -}}
{{- $_ := set $args.ctx.destateValidated $key true -}}
true
{{- end -}}
{{- end -}}

{{/*
destate.validate.all — every area's validation. Keys: ctx, values, path.
Example (first line of a chart template): {{- include "destate.validate.all" (dict "ctx" $) }}
*/}}
{{- define "destate.validate.all" -}}
{{- if include "destate.validate.once" (list . "all") -}}
{{- $a := pick . "ctx" "values" "path" -}}
{{- /* the chart's own tree has an off area's overlay: session and connection are mode
none, in which none of their values renders; their own templates still check them */ -}}
{{- $on := list "session" "connection" -}}
{{- if not (hasKey . "values") -}}{{- $on = fromJsonArray (include "destate.values.areas" (dict "ctx" .ctx)) -}}{{- end -}}
{{- template "destate.validate.names" $a -}}
{{- template "destate.validate.image" $a -}}
{{- template "destate.validate.workload" $a -}}
{{- template "destate.validate.persistence" $a -}}
{{- template "destate.validate.config" $a -}}
{{- template "destate.validate.topology" $a -}}
{{- if has "session" $on -}}{{- template "destate.validate.session" $a -}}{{- end -}}
{{- if has "connection" $on -}}{{- template "destate.validate.connection" $a -}}{{- end -}}
{{- template "destate.validate.network" $a -}}
{{- end -}}
{{- end -}}

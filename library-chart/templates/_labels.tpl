{{/*
destate.labels.selector — the immutable selector labels (YAML map lines):
app.kubernetes.io/name (the chart name; for a component such as "redis" the component
name, so the chart's own selectors never match a component's pods),
app.kubernetes.io/instance and, with `component`, app.kubernetes.io/component.
Used in selectors; never add changing values here.
Keys: ctx, values, component.
Example:
  selector:
    matchLabels:
      {{- include "destate.labels.selector" (dict "ctx" $) | nindent 6 }}
*/}}
{{- define "destate.labels.selector" -}}
{{- template "destate.args.check" (list . "destate.labels.selector" list) -}}
{{- template "destate.labels.selectorOf" (list .ctx .component) -}}
{{- end -}}

{{/*
destate.labels.selectorOf — internal: destate.labels.selector without the argument guard,
built once per render and component (memo .ctx.destateSelectors).
Usage: include "destate.labels.selectorOf" (list $ctx $component)
*/}}
{{- define "destate.labels.selectorOf" -}}
{{- $ctx := index . 0 -}}
{{- $component := index . 1 | default "" | toString -}}
{{- if and (hasKey $ctx "destateSelectors") (hasKey $ctx.destateSelectors $component) -}}
{{- get $ctx.destateSelectors $component -}}
{{- else -}}
{{- if not (hasKey $ctx "destateSelectors") -}}{{- $_ := set $ctx "destateSelectors" dict -}}{{- end -}}
{{- $sel := dict -}}
{{- template "destate.labels.selectorInto" (list $ctx $component $sel) -}}
{{- $lines := printf "app.kubernetes.io/name: %s\napp.kubernetes.io/instance: %s" (get $sel "app.kubernetes.io/name" | quote) (get $sel "app.kubernetes.io/instance" | quote) -}}
{{- with $component -}}{{- $lines = printf "%s\napp.kubernetes.io/component: %s" $lines (quote .) -}}{{- end -}}
{{- $_ := set $ctx.destateSelectors $component $lines -}}
{{- $lines -}}
{{- end -}}
{{- end -}}

{{/*
destate.labels.selectorInto — internal: the selector labels of destate.labels.selectorOf set
into the dict given (for templates that add labels to them: no YAML parsed back).
Usage: include "destate.labels.selectorInto" (list $ctx $component $dict)
*/}}
{{- define "destate.labels.selectorInto" -}}
{{- $ctx := index . 0 -}}
{{- $component := index . 1 | default "" | toString -}}
{{- $into := index . 2 -}}
{{- $_ := set $into "app.kubernetes.io/name" ($component | default (include "destate.names.nameOf" $ctx)) -}}
{{- $_ := set $into "app.kubernetes.io/instance" $ctx.Release.Name -}}
{{- with $component -}}{{- $_ := set $into "app.kubernetes.io/component" . -}}{{- end -}}
{{- end -}}

{{/*
destate.labels.standard — the recommended app.kubernetes.io/* labels for metadata:
selector labels + version (the chart's appVersion; for a component with its own values
tree, such as the embedded Redis, its image tag), managed-by, part-of and helm.sh/chart.
Keys: ctx, values, component, extra (optional map of more labels, merged last).
Example:
  metadata:
    labels:
      {{- include "destate.labels.standard" (dict "ctx" $ "component" "redis") | nindent 4 }}
*/}}
{{- define "destate.labels.standard" -}}
{{- template "destate.args.check" (list . "destate.labels.standard" (list "extra")) -}}
{{- template "destate.labels.standardOf" . -}}
{{- end -}}

{{/*
destate.labels.standardOf — internal: destate.labels.standard without the argument guard.
Every resource asks for the same few label sets: each is built once per render.
*/}}
{{- define "destate.labels.standardOf" -}}
{{- $tree := "" -}}
{{- if and .component (hasKey . "values") -}}{{- $tree = include "destate.values.key" (pick . "ctx" "values") -}}{{- end -}}
{{- $key := printf "standard %s %s" (.component | default "") $tree -}}
{{- with .extra -}}{{- $key = printf "%s %s" $key (toJson .) -}}{{- end -}}
{{- if and (hasKey .ctx "destateLabels") (hasKey .ctx.destateLabels $key) -}}
{{- get .ctx.destateLabels $key -}}
{{- else -}}
{{- if not (hasKey .ctx "destateLabels") -}}{{- $_ := set .ctx "destateLabels" dict -}}{{- end -}}
{{- $labels := include "destate.labels.standardOnce" . -}}
{{- $_ := set .ctx.destateLabels $key $labels -}}
{{- $labels -}}
{{- end -}}
{{- end -}}

{{/*
destate.labels.standardOnce — internal: destate.labels.standard without the per-render memo.
*/}}
{{- define "destate.labels.standardOnce" -}}
{{- $labels := dict -}}
{{- template "destate.labels.selectorInto" (list .ctx .component $labels) -}}
{{- $version := .ctx.Chart.AppVersion -}}
{{- if and .component (hasKey . "values") -}}
{{- with (include "destate.values.key" (pick . "ctx" "values") | get .ctx.destateValues).image.tag -}}
{{- $version = . -}}
{{- end -}}
{{- end -}}
{{- with $version -}}
{{- $_ := set $labels "app.kubernetes.io/version" (. | toString | trunc 63 | trimSuffix "-") -}}
{{- end -}}
{{- $_ := set $labels "app.kubernetes.io/managed-by" .ctx.Release.Service -}}
{{- $_ := set $labels "app.kubernetes.io/part-of" (include "destate.names.nameOf" .ctx) -}}
{{- $_ := set $labels "helm.sh/chart" (include "destate.names.chart" (dict "ctx" .ctx)) -}}
{{- range $k, $val := (.extra | default dict) -}}
{{- $_ := set $labels $k ($val | toString) -}}
{{- end -}}
{{- toYaml $labels -}}
{{- end -}}

{{/*
destate.labels.metadata — a metadata block body: name, namespace, standard labels and
optional annotations (omitted when empty).
Keys: ctx, values, component, name (default FULLNAME[-COMPONENT]), labels (extra map),
annotations (map).
Example:
  metadata:
    {{- include "destate.labels.metadata" (dict "ctx" $ "name" "x" "annotations" $a) | nindent 2 }}
*/}}
{{- define "destate.labels.metadata" -}}
{{- template "destate.args.check" (list . "destate.labels.metadata" (list "name" "labels" "annotations")) -}}
{{- template "destate.labels.metadataOf" . -}}
{{- end -}}

{{/*
destate.labels.metadataOf — internal: destate.labels.metadata without the argument guard.
The name is quoted: one of digits alone (fullnameOverride "2024") is a number in YAML.
*/}}
{{- define "destate.labels.metadataOf" -}}
name: {{ if .name }}{{ .name | quote }}{{ else }}{{ include "destate.names.fullnameOf" (list .ctx .component) | quote }}{{ end }}
namespace: {{ .ctx.Release.Namespace | quote }}
labels:
  {{- include "destate.labels.standardOf" (set (pick . "ctx" "values" "component") "extra" (.labels | default dict)) | nindent 2 }}
{{- with .annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

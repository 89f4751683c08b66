{{/*
destate.names.name — the chart name (or the chart's nameOverride), DNS-safe, max 63.
Keys: ctx. (Components such as "redis" share the chart's name and differ by component.)
Example: {{ include "destate.names.name" (dict "ctx" $) }}  ->  mysql
*/}}
{{- define "destate.names.name" -}}
{{- template "destate.args.check" (list . "destate.names.name" list) -}}
{{- template "destate.names.nameOf" .ctx -}}
{{- end -}}

{{/*
destate.names.nameOf — internal: destate.names.name of the root context given, without the
argument guard. The library's own calls use the *Of forms (names.fullnameOf,
names.headlessOf, labels.selectorOf): their arguments are built, never typed, and they
are the most frequent calls of a render.
*/}}
{{- define "destate.names.nameOf" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
destate.names.fullname — RELEASE-NAME (or RELEASE when it already contains NAME, or
values.fullnameOverride), plus "-COMPONENT" when `component` is set. Max 63 chars.
Keys: ctx, values, component.
Example: {{ include "destate.names.fullname" (dict "ctx" $ "component" "redis") }}
  ->  web-web-session-redis
*/}}
{{- define "destate.names.fullname" -}}
{{- template "destate.args.check" (list . "destate.names.fullname" list) -}}
{{- template "destate.names.fullnameOf" (list .ctx .component) -}}
{{- end -}}

{{/*
destate.names.fullnameOf — internal: destate.names.fullname without the argument guard,
computed once per render and component (memo .ctx.destateNames: it depends only on the
chart, the release and the root values).
Usage: include "destate.names.fullnameOf" (list $ctx $component)
*/}}
{{- define "destate.names.fullnameOf" -}}
{{- $ctx := index . 0 -}}
{{- $component := index . 1 | default "" | toString -}}
{{- /* the usual call finds the name built: two hasKey calls and a get */ -}}
{{- if and (hasKey $ctx "destateNames") (hasKey $ctx.destateNames $component) -}}
{{- get $ctx.destateNames $component -}}
{{- else -}}
{{- if not (hasKey $ctx "destateNames") -}}{{- $_ := set $ctx "destateNames" dict -}}{{- end -}}
{{- $root := $ctx.Values -}}
{{- $base := "" -}}
{{- if $root.fullnameOverride -}}
{{- $base = $root.fullnameOverride -}}
{{- else -}}
{{- $name := default $ctx.Chart.Name $root.nameOverride -}}
{{- if contains $name $ctx.Release.Name -}}
{{- $base = $ctx.Release.Name -}}
{{- else -}}
{{- $base = printf "%s-%s" $ctx.Release.Name $name -}}
{{- end -}}
{{- end -}}
{{- if $component -}}
{{- $base = printf "%s-%s" ($base | trunc (sub 62 (len $component) | int) | trimSuffix "-") $component -}}
{{- else -}}
{{- $base = $base | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- $_ := set $ctx.destateNames $component $base -}}
{{- $base -}}
{{- end -}}
{{- end -}}

{{/*
destate.names.chart — NAME-VERSION for the helm.sh/chart label ("+" replaced by "_").
Keys: ctx.
*/}}
{{- define "destate.names.chart" -}}
{{- template "destate.args.check" (list . "destate.names.chart" list) -}}
{{- printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
destate.names.headless — name of the headless Service: FULLNAME-headless.
Keys: ctx, component.
*/}}
{{- define "destate.names.headless" -}}
{{- template "destate.args.check" (list . "destate.names.headless" list) -}}
{{- template "destate.names.headlessOf" (list .ctx .component) -}}
{{- end -}}

{{/*
destate.names.headlessOf — internal: destate.names.headless without the argument guard.
Usage: include "destate.names.headlessOf" (list $ctx $component)
*/}}
{{- define "destate.names.headlessOf" -}}
{{- printf "%s-headless" (include "destate.names.fullnameOf" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{/*
destate.names.namespace — the release namespace.
Keys: ctx.
*/}}
{{- define "destate.names.namespace" -}}
{{- template "destate.args.check" (list . "destate.names.namespace" list) -}}
{{- .ctx.Release.Namespace -}}
{{- end -}}

{{/*
destate.names.configMap — the config area's ConfigMap: config.existingConfigMap, else
FULLNAME[-COMPONENT]; with config.immutable, FULLNAME[-COMPONENT]-HASH (the first 10 hex
of its data's checksum): an immutable ConfigMap cannot change, so each content gets a
name of its own, an upgrade makes the new one and Helm deletes the old.
Keys: ctx, values, component.
*/}}
{{- define "destate.names.configMap" -}}
{{- template "destate.args.check" (list . "destate.names.configMap" list) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- if $v.config.existingConfigMap -}}
{{- $v.config.existingConfigMap -}}
{{- else if $v.config.immutable -}}
{{- $data := fromJson (include "destate.config.data" (pick . "ctx" "values" "component")) -}}
{{- printf "%s-%s" (include "destate.names.fullnameOf" (list .ctx .component)) (include "destate.config.checksum" $data | trunc 10) -}}
{{- else -}}
{{- template "destate.names.fullnameOf" (list .ctx .component) -}}
{{- end -}}
{{- end -}}

{{/*
destate.names.secret — the config area's Secret: config.existingSecret, else
FULLNAME[-COMPONENT]; with config.immutable, FULLNAME[-COMPONENT]-HASH as for the
ConfigMap (destate.names.configMap). An immutable Secret cannot hold a generated password
(a config.secrets entry ""): that is kept by reading back the Secret of one name.
Keys: ctx, values, component.
*/}}
{{- define "destate.names.secret" -}}
{{- template "destate.args.check" (list . "destate.names.secret" list) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- if $v.config.existingSecret -}}
{{- $v.config.existingSecret -}}
{{- else if $v.config.immutable -}}
{{- template "destate.config.immutableSecretCheck" (list .ctx (.path | default "") $v.config) -}}
{{- $data := fromJson (include "destate.config.secretData" (pick . "ctx" "values" "component")) -}}
{{- printf "%s-%s" (include "destate.names.fullnameOf" (list .ctx .component)) (include "destate.config.checksum" $data | trunc 10) -}}
{{- else -}}
{{- template "destate.names.fullnameOf" (list .ctx .component) -}}
{{- end -}}
{{- end -}}

{{/*
destate.names.defaults — internal: the `nameOverride`, `fullnameOverride` defaults of this area (YAML), part of
destate.values.defaults; schema/names.json documents every key.
*/}}
{{- define "destate.names.defaults" -}}
nameOverride: ""
fullnameOverride: ""
{{- end -}}

{{/*
destate.validate.names — nameOverride and fullnameOverride (chart root values): DNS labels,
so names, labels and the scripts that see them hold nothing else.
*/}}
{{- define "destate.validate.names" -}}
{{- if include "destate.validate.once" (list . "names") -}}
{{- range $key := list "nameOverride" "fullnameOverride" -}}
{{- with get $.ctx.Values $key -}}
{{- template "destate.validate.match" (list "" $key . "dnsLabel" "be a DNS label: at most 63 lower-case letters, digits and -, starting and ending with a letter or digit") -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

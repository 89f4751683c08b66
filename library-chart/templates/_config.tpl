{{/*
Configuration state (PATTERNS.md §2): config defined outside the image and laid over
the container's files at start. Values: `config` (see schema/config.json).

Volumes: "config" (the ConfigMap), "secret" (the Secret, only when
config.secretMountPath is set), "config-rw" (the writable emptyDir overlay).

Checksum convention (the tester recomputes it from the rendered manifest):
  checksum/config = sha256 hex of toJson(ConfigMap .data)
  checksum/secret = sha256 hex of toJson(Secret .data)          (data = base64 values)
toJson is Go's encoding/json: keys sorted, no spaces, "<", ">", "&" escaped as
\u003c \u003e \u0026, other non-ASCII characters kept as UTF-8.
Python: json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        (and U+2028/U+2029 as \u2028/\u2029).
*/}}

{{/*
destate.config.data — the ConfigMap data map (JSON): every config.files entry rendered
with `tpl` against ctx. Keys: ctx, values, component.
*/}}
{{- define "destate.config.data" -}}
{{- include "destate.args.check" (list . "destate.config.data" list) -}}
{{- $c := (fromJson (include "destate.values.get" .)).config -}}
{{- $data := dict -}}
{{- range $name, $content := $c.files -}}
{{- $_ := set $data $name (tpl ($content | toString) $.ctx) -}}
{{- end -}}
{{- toJson $data -}}
{{- end -}}

{{/*
destate.config.checksum — sha256 hex of toJson of a data map (the convention above).
Usage: {{ include "destate.config.checksum" $dataMap }} — for a chart's own ConfigMaps.
*/}}
{{- define "destate.config.checksum" -}}
{{- toJson . | sha256sum -}}
{{- end -}}

{{/*
destate.config.configMap — the ConfigMap holding config.files (rendered with tpl).
Nothing when config.existingConfigMap is set or there are no files.
config.immutable=true adds `immutable: true` (pods then roll through the checksum).
Keys: ctx, values, component.
Example: {{ include "destate.config.configMap" (dict "ctx" $) }}
*/}}
{{- define "destate.config.configMap" -}}
{{- include "destate.args.check" (list . "destate.config.configMap" list) -}}
{{- include "destate.validate.config" . -}}
{{- $c := (fromJson (include "destate.values.get" .)).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- if and $c.files (not $c.existingConfigMap) }}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "destate.labels.metadata" $sub | nindent 2 }}
{{- if $c.immutable }}
immutable: true
{{- end }}
data:
  {{- toYaml (fromJson (include "destate.config.data" $sub)) | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
destate.config.password — one generated password, stable across upgrades:
1. the live Secret SECRET (lookup) already holds KEY -> that value (upgrades keep it);
2. else, when talking to a cluster (a lookup of the namespace's ConfigMaps answers) or
   config.randomPasswords=true -> randAlphaNum LENGTH;
3. else (offline `helm template`) -> a deterministic placeholder derived from
   namespace/release/secret/key: NOT a secret, only so that offline output is stable.
The value is cached on ctx for the render, so the Secret and checksum/secret agree.
Keys: ctx, values, component, secretName (required), key (required).
*/}}
{{- define "destate.config.password" -}}
{{- include "destate.args.check" (list . "destate.config.password" (list "secretName" "key")) -}}
{{- $c := (fromJson (include "destate.values.get" .)).config -}}
{{- $ns := .ctx.Release.Namespace -}}
{{- if not (hasKey .ctx "destatePasswords") -}}
{{- $_ := set .ctx "destatePasswords" dict -}}
{{- end -}}
{{- $cache := get .ctx "destatePasswords" -}}
{{- $id := printf "%s/%s" .secretName .key -}}
{{- if not (hasKey $cache $id) -}}
{{- $live := lookup "v1" "Secret" $ns .secretName -}}
{{- $len := int $c.passwordLength -}}
{{- if and $live (hasKey ($live.data | default dict) .key) -}}
{{- $_ := set $cache $id (index $live.data .key | b64dec) -}}
{{- else if or $c.randomPasswords (lookup "v1" "ConfigMap" $ns "") -}}
{{- $_ := set $cache $id (randAlphaNum $len) -}}
{{- else -}}
{{- $_ := set $cache $id (printf "destate/%s/%s/%s/%s" $ns .ctx.Release.Name .secretName .key | sha256sum | trunc $len) -}}
{{- end -}}
{{- end -}}
{{- get $cache $id -}}
{{- end -}}

{{/*
destate.config.secretData — the Secret data map (JSON, base64 values) from
config.secrets; an entry whose value is "" is a generated password
(destate.config.password). Keys: ctx, values, component.
*/}}
{{- define "destate.config.secretData" -}}
{{- include "destate.args.check" (list . "destate.config.secretData" list) -}}
{{- $c := (fromJson (include "destate.values.get" .)).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $name := include "destate.names.secret" $sub -}}
{{- $data := dict -}}
{{- range $k, $val := $c.secrets -}}
{{- if eq ($val | toString) "" -}}
{{- $_ := set $data $k (include "destate.config.password" (merge (dict "secretName" $name "key" $k) $sub) | b64enc) -}}
{{- else -}}
{{- $_ := set $data $k (tpl ($val | toString) $.ctx | b64enc) -}}
{{- end -}}
{{- end -}}
{{- toJson $data -}}
{{- end -}}

{{/*
destate.config.secret — the Secret from config.secrets (values rendered with tpl;
"" = generated, stable password). Nothing when config.existingSecret is set or there are
no secrets. A Secret holding generated passwords carries helm.sh/resource-policy: keep.
Keys: ctx, values, component.
Example: {{ include "destate.config.secret" (dict "ctx" $) }}
*/}}
{{- define "destate.config.secret" -}}
{{- include "destate.args.check" (list . "destate.config.secret" list) -}}
{{- include "destate.validate.config" . -}}
{{- $c := (fromJson (include "destate.values.get" .)).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- if and $c.secrets (not $c.existingSecret) -}}
{{- $ann := dict -}}
{{- range $k, $val := $c.secrets -}}
{{- if eq ($val | toString) "" -}}
{{- $_ := set $ann "helm.sh/resource-policy" "keep" -}}
{{- end -}}
{{- end }}
apiVersion: v1
kind: Secret
metadata:
  {{- include "destate.labels.metadata" (merge (dict "annotations" $ann) $sub) | nindent 2 }}
type: Opaque
{{- if $c.immutable }}
immutable: true
{{- end }}
data:
  {{- toYaml (fromJson (include "destate.config.secretData" $sub)) | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
destate.config.checksumAnnotations — pod annotations checksum/config and
checksum/secret over the rendered data of this chart's own ConfigMap/Secret (see the
convention at the top). Nothing for existing* objects (not rendered here).
Keys: ctx, values, component.
Example:
  annotations:
    {{- include "destate.config.checksumAnnotations" (dict "ctx" $) | nindent 4 }}
*/}}
{{- define "destate.config.checksumAnnotations" -}}
{{- include "destate.args.check" (list . "destate.config.checksumAnnotations" list) -}}
{{- $c := (fromJson (include "destate.values.get" .)).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $ann := dict -}}
{{- if and $c.files (not $c.existingConfigMap) -}}
{{- $_ := set $ann "checksum/config" (include "destate.config.checksum" (fromJson (include "destate.config.data" $sub))) -}}
{{- end -}}
{{- if and $c.secrets (not $c.existingSecret) -}}
{{- $_ := set $ann "checksum/secret" (include "destate.config.checksum" (fromJson (include "destate.config.secretData" $sub))) -}}
{{- end -}}
{{- with $ann -}}{{- toYaml . -}}{{- end -}}
{{- end -}}

{{/*
destate.config.hasConfig — "true" when a ConfigMap (own or existing) is mounted.
Keys: ctx, values, component.
*/}}
{{- define "destate.config.hasConfig" -}}
{{- $c := (fromJson (include "destate.values.get" .)).config -}}
{{- if or $c.files $c.existingConfigMap -}}true{{- end -}}
{{- end -}}

{{/*
destate.config.volumes — pod volume items: "config" (ConfigMap) when there is config,
"config-rw" (emptyDir) when config.writable, "secret" when config.secretMountPath is set.
Keys: ctx, values, component.
*/}}
{{- define "destate.config.volumes" -}}
{{- include "destate.args.check" (list . "destate.config.volumes" list) -}}
{{- $c := (fromJson (include "destate.values.get" .)).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $vols := list -}}
{{- if include "destate.config.hasConfig" $sub -}}
{{- $vols = append $vols (dict "name" "config" "configMap" (dict "name" (include "destate.names.configMap" $sub))) -}}
{{- if $c.writable -}}
{{- $vols = append $vols (dict "name" "config-rw" "emptyDir" dict) -}}
{{- end -}}
{{- end -}}
{{- if and $c.secretMountPath (or $c.secrets $c.existingSecret) -}}
{{- $vols = append $vols (dict "name" "secret" "secret" (dict "secretName" (include "destate.names.secret" $sub))) -}}
{{- end -}}
{{- with $vols -}}{{- toYaml . -}}{{- end -}}
{{- end -}}

{{/*
destate.config.volumeMounts — the main container's mounts:
- default: the whole ConfigMap directory at config.mountPath (live-updated by kubelet);
- config.subPath=true: one subPath mount per file in config.files at
  MOUNTPATH/FILE — files beside them in the image stay visible, but subPath mounts
  NEVER receive updates (pods only pick up changes when they restart);
- config.writable=true: the emptyDir "config-rw" at config.mountPath, filled by the
  destate.config.initContainer copy (the app may edit its config; edits are lost on
  restart — by design);
- the Secret at config.secretMountPath when set (read-only).
Keys: ctx, values, component.
*/}}
{{- define "destate.config.volumeMounts" -}}
{{- include "destate.args.check" (list . "destate.config.volumeMounts" list) -}}
{{- $c := (fromJson (include "destate.values.get" .)).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $mounts := list -}}
{{- if include "destate.config.hasConfig" $sub -}}
{{- if $c.writable -}}
{{- $mounts = append $mounts (dict "name" "config-rw" "mountPath" $c.mountPath) -}}
{{- else if $c.subPath -}}
{{- range $file := keys $c.files | sortAlpha -}}
{{- $mounts = append $mounts (dict "name" "config" "mountPath" (printf "%s/%s" (trimSuffix "/" $c.mountPath) $file) "subPath" $file "readOnly" true) -}}
{{- end -}}
{{- else -}}
{{- $mounts = append $mounts (dict "name" "config" "mountPath" $c.mountPath "readOnly" true) -}}
{{- end -}}
{{- end -}}
{{- if and $c.secretMountPath (or $c.secrets $c.existingSecret) -}}
{{- $mounts = append $mounts (dict "name" "secret" "mountPath" $c.secretMountPath "readOnly" true) -}}
{{- end -}}
{{- with $mounts -}}{{- toYaml . -}}{{- end -}}
{{- end -}}

{{/*
destate.config.initContainer — the writable overlay: an init container (main image,
restricted securityContext) that copies every file of the ConfigMap into the emptyDir
"config-rw" mounted at config.mountPath. Nothing unless config.writable and there is
config. Keys: ctx, values, component.
*/}}
{{- define "destate.config.initContainer" -}}
{{- include "destate.args.check" (list . "destate.config.initContainer" list) -}}
{{- $v := fromJson (include "destate.values.get" .) -}}
{{- $c := $v.config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- if and $c.writable (include "destate.config.hasConfig" $sub) -}}
- name: config-copy
  image: {{ include "destate.workload.image" (merge (dict "image" $v.image) $sub) }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  command:
    - sh
    - -c
    - |
      set -eu
      for f in /destate/config-src/*; do
        cp -L "$f" {{ $c.mountPath | quote }}/
      done
  securityContext:
    {{- toYaml $v.workload.securityContext | nindent 4 }}
  volumeMounts:
    - name: config
      mountPath: /destate/config-src
      readOnly: true
    - name: config-rw
      mountPath: {{ $c.mountPath }}
{{- end }}
{{- end -}}

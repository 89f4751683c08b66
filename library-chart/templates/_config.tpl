{{/*
Configuration state (README.md §2): config defined outside the image and laid over
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
destate.config.content — internal: the text of one config.files / config.secrets entry.
An entry is a string (taken literally: "{{ lookup ... }}" stays those characters) or a map
{content: STRING, tpl: BOOL}; only tpl: true renders content with `tpl` against ctx, with
the installer's rights (lookup, include): the per-entry opt-in of README "Templated
config". Usage: include "destate.config.content" (list $ctx "config.files.app.conf" $entry)
*/}}
{{- define "destate.config.content" -}}
{{- $ctx := index . 0 -}}{{- $path := index . 1 -}}{{- $entry := index . 2 -}}
{{- if kindIs "map" $entry -}}
{{- $unknown := without (keys $entry | sortAlpha) "content" "tpl" -}}
{{- if $unknown -}}
{{- template "destate.validate.fail" (list "" $path "be a string or a map with the keys content and tpl" (printf "the key(s) %s" (join ", " $unknown))) -}}
{{- end -}}
{{- if not (has (toString (get $entry "tpl" | default false)) (list "true" "false")) -}}
{{- template "destate.validate.fail" (list "" (printf "%s.tpl" $path) "be true or false" (printf "%q" (toString $entry.tpl))) -}}
{{- end -}}
{{- $content := get $entry "content" | default "" | toString -}}
{{- if eq (toString $entry.tpl) "true" -}}{{- tpl $content $ctx -}}{{- else -}}{{- $content -}}{{- end -}}
{{- else if not (kindIs "invalid" $entry) -}}
{{- $entry | toString -}}
{{- end -}}
{{- end -}}

{{/*
destate.config.data — the ConfigMap data map (JSON): every config.files entry, literal,
or rendered with `tpl` when the entry opts in ({content: ..., tpl: true}; see
destate.config.content). Keys: ctx, values, component.
Built once per render and tree (the ConfigMap and the pods' checksum both read it: a
`tpl` entry is rendered once, so both always agree).
*/}}
{{- define "destate.config.data" -}}
{{- template "destate.args.check" (list . "destate.config.data" list) -}}
{{- $tree := include "destate.values.key" . -}}
{{- $p := .path | default "" -}}
{{- $memo := printf "%s %s" $tree $p -}}
{{- if not (hasKey .ctx "destateConfigData") -}}{{- $_ := set .ctx "destateConfigData" dict -}}{{- end -}}
{{- if not (hasKey .ctx.destateConfigData $memo) -}}
{{- $data := dict -}}
{{- range $name, $entry := (get .ctx.destateValues $tree).config.files -}}
{{- $_ := set $data $name (include "destate.config.content" (list $.ctx (printf "%sconfig.files.%s" $p $name) $entry)) -}}
{{- end -}}
{{- $_ := set .ctx.destateConfigData $memo (toJson $data) -}}
{{- end -}}
{{- get .ctx.destateConfigData $memo -}}
{{- end -}}

{{/*
destate.config.immutableSecretCheck — internal: fail when config.immutable would make a
Secret holding a generated password (a config.secrets entry that is "").
Usage: include "destate.config.immutableSecretCheck" (list $ctx $pathPrefix $config)
*/}}
{{- define "destate.config.immutableSecretCheck" -}}
{{- $ctx := index . 0 -}}{{- $p := index . 1 -}}{{- $c := index . 2 -}}
{{- range $k, $val := $c.secrets -}}
{{- if eq (include "destate.config.content" (list $ctx (printf "config.secrets.%s" $k) $val)) "" -}}
{{- template "destate.validate.fail" (list $p "config.immutable" (printf "be false while config.secrets.%s is generated (\"\"): an immutable Secret gets a new name with each content, and a generated password is kept by reading back the Secret of one name; set the password, or use config.existingSecret" $k) "true") -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.config.checksum — sha256 hex of toJson of a data map (the convention above).
Usage: {{ include "destate.config.checksum" $dataMap }} — for a chart's own ConfigMaps.
*/}}
{{- define "destate.config.checksum" -}}
{{- toJson . | sha256sum -}}
{{- end -}}

{{/*
destate.config.configMap — the ConfigMap holding config.files (literal; tpl per entry).
Nothing when config.existingConfigMap is set or there are no files.
config.immutable=true adds `immutable: true` (pods then roll through the checksum).
Keys: ctx, values, component.
Example: {{ include "destate.config.configMap" (dict "ctx" $) }}
*/}}
{{- define "destate.config.configMap" -}}
{{- template "destate.args.check" (list . "destate.config.configMap" list) -}}
{{- template "destate.validate.config" . -}}
{{- $c := (include "destate.values.key" . | get .ctx.destateValues).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- if and $c.files (not $c.existingConfigMap) }}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "destate.labels.metadataOf" (merge (dict "name" (include "destate.names.configMap" $sub)) $sub) | nindent 2 }}
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
2. else, when Helm talks to a cluster -> randAlphaNum LENGTH (first install);
3. else (an offline render: helm template, helm lint, --dry-run=client, Argo CD,
   kustomize helmCharts) -> FAIL CLOSED, naming the ways out: the explicit password value
   (`valuePath`), an existing Secret (`existingSecretPath`; e.g. from an external secret
   operator). Offline, nothing can be read back, and anything derived from what the
   manifests show is guessable;
4. only with the loud opt-in global.destate.insecurePredictablePasswords=true (tests, CI,
   golden files) does an offline render get a PREDICTABLE placeholder: sha256 of
   namespace/release/secret/key. Never a secret.
How "talks to a cluster" is told (see README "Generated passwords"): a namespaced LIST
lookup. Helm's offline lookup returns an empty map for everything, so a GET cannot tell
"offline" from "not found"; an API server answers a list with a List object (kind,
apiVersion, items: possibly none, even for a namespace --create-namespace has not made
yet), which is never empty.
The value is cached on ctx for the render, so the Secret and checksum/secret agree.
Keys: ctx, values, component, secretName (required), key (required), valuePath (the value
that sets this password explicitly; default config.secrets.KEY), existingSecretPath (the
value naming a Secret to use instead; default config.existingSecret).
*/}}
{{- define "destate.config.password" -}}
{{- template "destate.args.check" (list . "destate.config.password" (list "secretName" "key" "valuePath" "existingSecretPath")) -}}
{{- $c := (include "destate.values.key" . | get .ctx.destateValues).config -}}
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
{{- else if include "destate.config.online" . -}}
{{- $_ := set $cache $id (randAlphaNum $len) -}}
{{- else if include "destate.config.insecurePredictablePasswords" . -}}
{{- $_ := set $cache $id (printf "destate/%s/%s/%s/%s" $ns .ctx.Release.Name .secretName .key | sha256sum | trunc $len) -}}
{{- else -}}
{{- $value := .valuePath | default (printf "%sconfig.secrets.%s" (.path | default "") .key) -}}
{{- $existing := .existingSecretPath | default (printf "%sconfig.existingSecret" (.path | default "")) -}}
{{- fail (printf "destate: %s must be set, or %s name a Secret you manage (kubectl, External Secrets Operator, Sealed Secrets, SOPS), when Helm renders without a cluster (helm template, helm lint, --dry-run=client, Argo CD, kustomize helmCharts): offline the password cannot be read back from the live Secret %s, and one generated now would be guessable or change on every render. Tests and CI only: global.destate.insecurePredictablePasswords=true renders PREDICTABLE placeholders (got \"\")" $value $existing .secretName) -}}
{{- end -}}
{{- end -}}
{{- get $cache $id -}}
{{- end -}}

{{/*
destate.config.online — internal: "true" when Helm talks to an API server (install,
upgrade, template/install --dry-run=server), "" in offline renders. A namespaced list
lookup is a List object online (never an empty map, even with no items) and an empty map
offline. Needs `list configmaps` in the release namespace (any installer has it; without
it the render fails rather than guessing). Cached on ctx. Keys: ctx.
*/}}
{{- define "destate.config.online" -}}
{{- if not (hasKey .ctx "destateOnline") -}}
{{- $_ := set .ctx "destateOnline" (ternary "true" "" (not (empty (lookup "v1" "ConfigMap" .ctx.Release.Namespace "")))) -}}
{{- end -}}
{{- get .ctx "destateOnline" -}}
{{- end -}}

{{/*
destate.config.insecurePredictablePasswords — internal: "true" when the values opt in to
predictable offline placeholder passwords (global.destate.insecurePredictablePasswords:
true, a boolean; for tests, CI and golden files only). Keys: ctx.
*/}}
{{- define "destate.config.insecurePredictablePasswords" -}}
{{- $g := .ctx.Values.global | default dict -}}
{{- if kindIs "map" $g -}}
{{- $d := get $g "destate" | default dict -}}
{{- if and (kindIs "map" $d) (eq (toString (get $d "insecurePredictablePasswords")) "true") -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.config.secretData — the Secret data map (JSON, base64 values) from
config.secrets: literal, or tpl with {content: ..., tpl: true} (destate.config.content);
an entry whose content is "" is a generated password (destate.config.password).
Keys: ctx, values, component.
*/}}
{{- define "destate.config.secretData" -}}
{{- template "destate.args.check" (list . "destate.config.secretData" list) -}}
{{- $c := (include "destate.values.key" . | get .ctx.destateValues).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $data := dict -}}
{{- range $k, $val := $c.secrets -}}
{{- $text := include "destate.config.content" (list $.ctx (printf "config.secrets.%s" $k) $val) -}}
{{- if eq $text "" -}}
{{- /* named here only: an immutable Secret's name is of this data (none is generated) */ -}}
{{- $name := include "destate.names.secret" $sub -}}
{{- $_ := set $data $k (include "destate.config.password" (merge (dict "secretName" $name "key" $k) $sub) | b64enc) -}}
{{- else -}}
{{- $_ := set $data $k ($text | b64enc) -}}
{{- end -}}
{{- end -}}
{{- toJson $data -}}
{{- end -}}

{{/*
destate.config.secret — the Secret from config.secrets (literal, tpl per entry;
"" = generated, stable password). Nothing when config.existingSecret is set or there are
no secrets. A Secret holding generated passwords carries helm.sh/resource-policy: keep.
Keys: ctx, values, component.
Example: {{ include "destate.config.secret" (dict "ctx" $) }}
*/}}
{{- define "destate.config.secret" -}}
{{- template "destate.args.check" (list . "destate.config.secret" list) -}}
{{- template "destate.validate.config" . -}}
{{- $c := (include "destate.values.key" . | get .ctx.destateValues).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- if and $c.secrets (not $c.existingSecret) -}}
{{- $ann := dict -}}
{{- range $k, $val := $c.secrets -}}
{{- if eq (include "destate.config.content" (list $.ctx (printf "config.secrets.%s" $k) $val)) "" -}}
{{- $_ := set $ann "helm.sh/resource-policy" "keep" -}}
{{- end -}}
{{- end }}
apiVersion: v1
kind: Secret
metadata:
  {{- include "destate.labels.metadataOf" (merge (dict "annotations" $ann "name" (include "destate.names.secret" $sub)) $sub) | nindent 2 }}
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
{{- template "destate.args.check" (list . "destate.config.checksumAnnotations" list) -}}
{{- $c := (include "destate.values.key" . | get .ctx.destateValues).config -}}
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
{{- $c := (include "destate.values.key" . | get .ctx.destateValues).config -}}
{{- if or $c.files $c.existingConfigMap -}}true{{- end -}}
{{- end -}}

{{/*
destate.config.volumes — pod volume items: "config" (ConfigMap) when there is config,
"config-rw" (emptyDir) when config.writable, "secret" when config.secretMountPath is set.
With configStep (the chart's own init container lays the config, see
destate.config.stepSources) neither "config" nor "config-rw".
Keys: ctx, values, component, configStep.
*/}}
{{- define "destate.config.volumes" -}}
{{- template "destate.args.check" (list . "destate.config.volumes" (list "configStep")) -}}
{{- $c := (include "destate.values.key" . | get .ctx.destateValues).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $vols := list -}}
{{- if and (not .configStep) (include "destate.config.hasConfig" $sub) -}}
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
With configStep no ConfigMap mount: the chart's config step fills config.mountPath.
Keys: ctx, values, component, configStep.
*/}}
{{- define "destate.config.volumeMounts" -}}
{{- template "destate.args.check" (list . "destate.config.volumeMounts" (list "configStep")) -}}
{{- $c := (include "destate.values.key" . | get .ctx.destateValues).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $mounts := list -}}
{{- if and (not .configStep) (include "destate.config.hasConfig" $sub) -}}
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
"config-rw" mounted at config.mountPath (given to its script as env CONFIG_DEST, never
spliced into the script). Nothing unless config.writable and there is config, nor with
configStep (the chart brings its own step).
Keys: ctx, values, component, configStep.
*/}}
{{- define "destate.config.initContainer" -}}
{{- template "destate.args.check" (list . "destate.config.initContainer" (list "configStep")) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $c := $v.config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- if and $c.writable (not .configStep) (include "destate.config.hasConfig" $sub) -}}
- name: config-copy
  image: {{ include "destate.workload.image" (merge (dict "image" $v.image) $sub) | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- /* values reach the script only through env, used as "$VAR": never as script text */}}
  command:
    - sh
    - -c
    - |
      set -eu
      for f in /destate/config-src/*; do
        cp -L "$f" "$CONFIG_DEST/"
      done
  env:
    - name: CONFIG_DEST
      value: {{ $c.mountPath | quote }}
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

{{/*
destate.config.stepSources — the config sources of a chart's own config step (an init
container that builds config.mountPath itself, e.g. MySQL's server-id + role file + the
user's files): `volumes` (user-config: the ConfigMap, when there is config; user-secret:
the Secret, when config.secrets or config.existingSecret) and `mounts` (read-only at
/destate/config-src/user and /destate/config-src/secret), as a dict (YAML). Pass
configStep true to the workload so the library mounts no ConfigMap and adds no copier.
Keys: ctx, values, component.
Example: {{ $src := fromYaml (include "destate.config.stepSources" (dict "ctx" $)) }}
*/}}
{{- define "destate.config.stepSources" -}}
{{- template "destate.args.check" (list . "destate.config.stepSources" list) -}}
{{- $c := (include "destate.values.key" . | get .ctx.destateValues).config -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $vols := list -}}
{{- $mounts := list -}}
{{- if include "destate.config.hasConfig" $sub -}}
{{- $mounts = append $mounts (dict "name" "user-config" "mountPath" "/destate/config-src/user" "readOnly" true) -}}
{{- $vols = append $vols (dict "name" "user-config" "configMap" (dict "name" (include "destate.names.configMap" $sub))) -}}
{{- end -}}
{{- if or $c.secrets $c.existingSecret -}}
{{- $mounts = append $mounts (dict "name" "user-secret" "mountPath" "/destate/config-src/secret" "readOnly" true) -}}
{{- $vols = append $vols (dict "name" "user-secret" "secret" (dict "secretName" (include "destate.names.secret" $sub))) -}}
{{- end -}}
{{- toYaml (dict "volumes" $vols "mounts" $mounts) -}}
{{- end -}}

{{/*
destate.config.off — internal: the overlay laid over the chart's values when its Chart.yaml
does not list the config area (see destate.values.areas in _values.tpl).
*/}}
{{- define "destate.config.off" -}}
config:
  files: {}
  secrets: {}
  existingConfigMap: ""
  existingSecret: ""
{{- end -}}

{{/*
destate.config.defaults — internal: the `config` defaults of this area (YAML), part of
destate.values.defaults; schema/config.json documents every key.
*/}}
{{- define "destate.config.defaults" -}}
config:
  files: {}
  secrets: {}
  existingConfigMap: ""
  existingSecret: ""
  mountPath: /etc/app
  secretMountPath: ""
  subPath: false
  writable: false
  immutable: false
  passwordLength: 24
{{- end -}}

{{/*
destate.validate.config — absolute mount paths of safe characters; file names are
ConfigMap keys; files and existingConfigMap (and secrets and existingSecret) are exclusive
and existing* are DNS names; passwordLength >= 8.
*/}}
{{- define "destate.validate.config" -}}
{{- if include "destate.validate.once" (list . "config") -}}
{{- $p := .path | default "" -}}
{{- $c := (include "destate.values.key" . | get .ctx.destateValues).config -}}
{{- if not (isAbs ($c.mountPath | toString)) -}}
{{- template "destate.validate.fail" (list $p "config.mountPath" "be an absolute path" (printf "%q" ($c.mountPath | toString))) -}}
{{- end -}}
{{- if and $c.immutable (not $c.existingSecret) -}}
{{- template "destate.config.immutableSecretCheck" (list .ctx $p $c) -}}
{{- end -}}
{{- if and $c.secretMountPath (not (isAbs ($c.secretMountPath | toString))) -}}
{{- template "destate.validate.fail" (list $p "config.secretMountPath" "be an absolute path or empty" (printf "%q" ($c.secretMountPath | toString))) -}}
{{- end -}}
{{- template "destate.validate.match" (list $p "config.mountPath" $c.mountPath "absPath" "be an absolute path of letters, digits and ._@+- (no spaces, quotes, $, .. or control characters)") -}}
{{- with $c.secretMountPath -}}
{{- template "destate.validate.match" (list $p "config.secretMountPath" . "absPath" "be an absolute path of letters, digits and ._@+- (no spaces, quotes, $, .. or control characters)") -}}
{{- end -}}
{{- range $area := list "files" "secrets" -}}
{{- range $name, $_ := get $c $area -}}
{{- if or (not (regexMatch (include "destate.validate.re" "key") $name)) (has $name (list "." "..")) (gt (len $name) 253) -}}
{{- template "destate.validate.fail" (list $p (printf "config.%s" $area) "have file names of letters, digits and ._- (not . or ..)" (printf "%q" $name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $key := list "existingConfigMap" "existingSecret" -}}
{{- with get $c $key -}}
{{- template "destate.validate.match" (list $p (printf "config.%s" $key) . "dnsSubdomain" "be the name of a ConfigMap or Secret (a DNS name) or empty") -}}
{{- end -}}
{{- end -}}
{{- if and $c.files $c.existingConfigMap -}}
{{- template "destate.validate.fail" (list $p "config.existingConfigMap" "be empty when config.files is set (use one or the other)" (printf "%q" $c.existingConfigMap)) -}}
{{- end -}}
{{- if and $c.subPath (not $c.writable) $c.existingConfigMap -}}
{{- template "destate.validate.fail" (list $p "config.subPath" "be false with config.existingConfigMap: one subPath mount is made per key of config.files, and the keys of a ConfigMap made elsewhere are unknown here, so nothing would be mounted (the default mounts the whole directory)" "true") -}}
{{- end -}}
{{- if and $c.secrets $c.existingSecret -}}
{{- template "destate.validate.fail" (list $p "config.existingSecret" "be empty when config.secrets is set (use one or the other)" (printf "%q" $c.existingSecret)) -}}
{{- end -}}
{{- if lt (int $c.passwordLength) 8 -}}
{{- template "destate.validate.fail" (list $p "config.passwordLength" "be >= 8" ($c.passwordLength | toString)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

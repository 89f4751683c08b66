{{/*
Workload assembly: whole StatefulSet / Deployment built from the areas' values
(image, workload, persistence, config, topology, session, connection).

Arguments common to destate.workload.statefulset / .deployment / .podTemplate:
  ctx, values, component, path   (see _values.tpl)
  container       dict: the main container's own parts: name (default chart name),
                  command, args, ports, env, envFrom, volumeMounts, lifecycle,
                  workingDir, and default livenessProbe/readinessProbe/startupProbe
                  (used when the workload.*Probe value is empty)
  initContainers  list: init containers placed after the config copier and before
                  workload.initContainers
  containers      list: more containers (e.g. the Envoy sidecar), before
                  workload.extraContainers
  volumes         list: more pod volumes, before workload.extraVolumes
  podAnnotations  map: more pod annotations (e.g. checksums of the chart's own
                  ConfigMaps), merged under workload.podAnnotations
  podLabels       map: more pod labels
  configStep      bool: the chart's own init container lays the config into
                  config.mountPath (see destate.config.stepSources): no ConfigMap mount,
                  no copier
*/}}

{{/*
destate.workload.argKeys — internal: the argument keys of the workload templates (JSON).
*/}}
{{- define "destate.workload.argKeys" -}}
{{- toJson (list "container" "initContainers" "containers" "volumes" "podAnnotations" "podLabels" "kind" "configStep") -}}
{{- end -}}

{{/*
destate.workload.image — "repository:tag" (tag default: the chart's appVersion) or
"repository@digest" when image.digest is set. global.imageRegistry, when set, is the
registry of every image the library renders (as in other shared chart libraries): it
replaces the repository's own registry host (a first segment with "." or ":", or
localhost) or is put in front of it (docker.io/library/redis -> MIRROR/library/redis,
redis -> MIRROR/redis).
Keys: ctx, values, component, image (dict, default values.image).
Example: image: {{ include "destate.workload.image" (dict "ctx" $) | quote }}
*/}}
{{- define "destate.workload.image" -}}
{{- template "destate.args.check" (list . "destate.workload.image" (list "image")) -}}
{{- $img := .image -}}
{{- if not $img -}}{{- $img = (include "destate.values.key" . | get .ctx.destateValues).image -}}{{- end -}}
{{- $repo := required (printf "destate: %simage.repository must be set" (.path | default "")) $img.repository -}}
{{- with (.ctx.Values.global | default dict).imageRegistry -}}
{{- template "destate.validate.match" (list "" "global.imageRegistry" . "imageRepository" "be a registry such as registry.example.com:5000 (optionally with a path)") -}}
{{- $parts := splitList "/" $repo -}}
{{- $first := first $parts -}}
{{- if and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq $first "localhost")) -}}
{{- $repo = join "/" (rest $parts) -}}
{{- end -}}
{{- $repo = printf "%s/%s" (trimSuffix "/" .) $repo -}}
{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- /* YAML reads an unquoted 11.10 as the number 11.1: a tag that is not a whole number
would name another image */ -}}
{{- if and (kindIs "float64" $img.tag) (ne (toString $img.tag) (toString (int64 $img.tag))) -}}
{{- template "destate.validate.fail" (list (.path | default "") "image.tag" "be quoted: YAML read it as a number, which drops trailing zeros (11.10 reads as 11.1)" (toString $img.tag)) -}}
{{- end -}}
{{- printf "%s:%s" $repo ((default .ctx.Chart.AppVersion $img.tag) | toString) -}}
{{- end -}}
{{- end -}}

{{/*
destate.workload.imagePullSecrets — a pod spec's `imagePullSecrets:` block:
global.imagePullSecrets, then image.pullSecrets (names or {name: ...}), each once; nothing
when there are none. The workloads' pods get it; a chart's own pods (a helm test pod
running the chart's image) include it to pull from the same private registry.
Keys: ctx, values, component.
Example:
  spec:
    {{- include "destate.workload.imagePullSecrets" (dict "ctx" $) | nindent 2 }}
*/}}
{{- define "destate.workload.imagePullSecrets" -}}
{{- template "destate.args.check" (list . "destate.workload.imagePullSecrets" list) -}}
{{- template "destate.workload.imagePullSecretsOf" (list .ctx (include "destate.values.key" . | get .ctx.destateValues)) -}}
{{- end -}}

{{/*
destate.workload.imagePullSecretsOf — internal: destate.workload.imagePullSecrets of a
values tree already read. Usage: include "destate.workload.imagePullSecretsOf" (list $ctx $v)
*/}}
{{- define "destate.workload.imagePullSecretsOf" -}}
{{- $ctx := index . 0 -}}
{{- $names := list -}}
{{- range concat (($ctx.Values.global | default dict).imagePullSecrets | default list) ((index . 1).image.pullSecrets | default list) -}}
{{- $name := . -}}{{- if kindIs "map" . -}}{{- $name = .name -}}{{- end -}}
{{- if not (has $name $names) -}}{{- $names = append $names $name -}}{{- end -}}
{{- end -}}
{{- with $names -}}
imagePullSecrets:
{{- range . }}
  - name: {{ . | quote }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
destate.workload.container — the main container: image, pull policy, command/args,
ports, env (pod identity from destate.topology.identityEnv, container.env, the session
store env when session.mode=store, the max-connection-age env when
connection.mode=client, then workload.extraEnv, whose entries replace those of the same
name), envFrom, volumeMounts (persistence
"data", config, container.volumeMounts, workload.extraVolumeMounts), resources,
probes, restricted securityContext (workload.securityContext).
Keys: ctx, values, component, path, container, kind (StatefulSet|Deployment), configStep.
*/}}
{{- define "destate.workload.container" -}}
{{- template "destate.args.check" (list . "destate.workload.container" (list "container" "kind" "configStep")) -}}
{{- $out := dict -}}
{{- template "destate.workload.containerInto" (merge (dict "into" $out) .) -}}
{{- $ctr := $out.container -}}
- name: {{ $ctr.name | quote }}
  image: {{ $ctr.image | quote }}
  imagePullPolicy: {{ $ctr.imagePullPolicy }}
  {{- with $ctr.command }}
  command:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $ctr.args }}
  args:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $ctr.workingDir }}
  workingDir: {{ . }}
  {{- end }}
  {{- with $ctr.ports }}
  ports:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  env:
    {{- toYaml $ctr.env | nindent 4 }}
  {{- with $ctr.envFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $ctr.volumeMounts }}
  volumeMounts:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $ctr.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- range $probe := list "livenessProbe" "readinessProbe" "startupProbe" }}
  {{- with get $ctr $probe }}
  {{ $probe }}:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
  {{- with $ctr.lifecycle }}
  lifecycle:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $ctr.securityContext | nindent 4 }}
{{- end -}}

{{/*
destate.workload.containerInto — internal: the main container of destate.workload.container
as a dict, put under "container" in the dict `into` (the pod template takes it as it is,
without writing it as YAML and parsing it back). Only the keys the container has are set.
Keys: those of destate.workload.container, into.
*/}}
{{- define "destate.workload.containerInto" -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $w := $v.workload -}}
{{- $c := .container | default dict -}}
{{- $kind := .kind | default "StatefulSet" -}}
{{- $env := fromYamlArray (include "destate.topology.identityEnv" (set (pick . "ctx" "values" "component") "kind" $kind)) -}}
{{- $env = concat $env ($c.env | default list) -}}
{{- with include "destate.session.storeEnv" (pick . "ctx" "values" "component") -}}
{{- $env = concat $env (fromYamlArray .) -}}
{{- end -}}
{{- with include "destate.connection.serverEnv" (pick . "ctx" "values" "component") -}}
{{- $env = concat $env (fromYamlArray .) -}}
{{- end -}}
{{- with $w.extraEnv -}}
{{- /* an entry named like one above replaces it in place: two entries of one name are
refused by Helm 4 (server-side apply) and resolved by position otherwise */ -}}
{{- $extra := dict -}}
{{- range . -}}{{- $_ := set $extra (toString .name) . -}}{{- end -}}
{{- $merged := list -}}
{{- range $env -}}
{{- $name := toString .name -}}
{{- if hasKey $extra $name -}}
{{- $merged = append $merged (get $extra $name) -}}{{- $_ := unset $extra $name -}}
{{- else -}}
{{- $merged = append $merged . -}}
{{- end -}}
{{- end -}}
{{- range . -}}
{{- $name := toString .name -}}
{{- if hasKey $extra $name -}}{{- $merged = append $merged (get $extra $name) -}}{{- $_ := unset $extra $name -}}{{- end -}}
{{- end -}}
{{- $env = $merged -}}
{{- end -}}
{{- $mounts := list -}}
{{- $mounts = concat $mounts (fromYamlArray (include "destate.persistence.volumeMounts" (pick . "ctx" "values" "component"))) -}}
{{- with include "destate.config.volumeMounts" (pick . "ctx" "values" "component" "configStep") -}}
{{- $mounts = concat $mounts (fromYamlArray .) -}}
{{- end -}}
{{- $mounts = concat $mounts ($c.volumeMounts | default list) $w.extraVolumeMounts -}}
{{- $envFrom := concat ($c.envFrom | default list) $w.extraEnvFrom -}}
{{- $ctr := dict
  "name" ($c.name | default (include "destate.names.nameOf" .ctx))
  "image" (include "destate.workload.image" (set (pick . "ctx" "values" "component" "path") "image" $v.image))
  "imagePullPolicy" ($v.image.pullPolicy | default "IfNotPresent")
  "env" $env
  "securityContext" $w.securityContext -}}
{{- range $key, $val := dict "command" $c.command "args" $c.args "workingDir" $c.workingDir "ports" $c.ports "envFrom" $envFrom "volumeMounts" $mounts "resources" $w.resources "lifecycle" $c.lifecycle -}}
{{- with $val -}}{{- $_ := set $ctr $key . -}}{{- end -}}
{{- end -}}
{{- range $probe := list "livenessProbe" "readinessProbe" "startupProbe" -}}
{{- with (get $w $probe) | default (get $c $probe) -}}{{- $_ := set $ctr $probe . -}}{{- end -}}
{{- end -}}
{{- $_ := set .into "container" $ctr -}}
{{- end -}}

{{/*
destate.workload.podTemplate — the pod template (metadata + spec) used by both
workload kinds: labels (selector + standard + workload.podLabels + podLabels),
annotations (config checksums + podAnnotations + workload.podAnnotations), restricted
pod securityContext, init containers (config copier, initContainers,
workload.initContainers), containers (main, containers, workload.extraContainers),
imagePullSecrets (global.imagePullSecrets, then image.pullSecrets; names or {name} maps,
each once),
volumes (persistence, config, volumes, workload.extraVolumes), affinity,
topologySpreadConstraints, nodeSelector, tolerations.
Keys: the common workload arguments (see top of file) plus kind.
*/}}
{{- define "destate.workload.podTemplate" -}}
{{- template "destate.args.check" (list . "destate.workload.podTemplate" (fromJsonArray (include "destate.workload.argKeys" .))) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $w := $v.workload -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $kind := .kind | default "StatefulSet" -}}
{{- /* without pod labels the set is the standard one (it holds the selector): its memo is
already YAML, not parsed and written again */ -}}
{{- $labels := include "destate.labels.standardOf" $sub -}}
{{- if or $w.podLabels .podLabels -}}
{{- $labels = merge (fromYaml (include "destate.labels.selectorOf" (list $sub.ctx $sub.component))) (deepCopy ($w.podLabels | default dict)) (.podLabels | default dict) (fromYaml $labels) | toYaml -}}
{{- end -}}
{{- $ann := dict -}}
{{- with include "destate.config.checksumAnnotations" $sub -}}{{- $ann = fromYaml . -}}{{- end -}}
{{- /* the session store's URL is read at start: a new embedded Redis password rolls the app */ -}}
{{- if eq $v.session.mode "store" -}}
{{- with include "destate.session.storeData" (pick . "ctx" "values") -}}
{{- $_ := set $ann "checksum/session-store" (include "destate.config.checksum" (fromJson .)) -}}
{{- end -}}
{{- end -}}
{{- $ann = merge $ann (deepCopy ($w.podAnnotations | default dict)) (.podAnnotations | default dict) -}}
{{- $inits := list -}}
{{- with include "destate.config.initContainer" (pick . "ctx" "values" "component" "configStep") -}}{{- $inits = concat $inits (fromYamlArray .) -}}{{- end -}}
{{- $inits = concat $inits (.initContainers | default list) $w.initContainers -}}
{{- $main := dict -}}
{{- template "destate.workload.containerInto" (merge (dict "kind" $kind "container" (.container | default dict) "into" $main) (pick . "ctx" "values" "component" "path" "configStep")) -}}
{{- $containers := list $main.container -}}
{{- $containers = concat $containers (.containers | default list) $w.extraContainers -}}
{{- $vols := list -}}
{{- with include "destate.persistence.volumes" (set (pick . "ctx" "values" "component") "kind" $kind) -}}{{- $vols = concat $vols (fromYamlArray .) -}}{{- end -}}
{{- with include "destate.config.volumes" (pick . "ctx" "values" "component" "configStep") -}}{{- $vols = concat $vols (fromYamlArray .) -}}{{- end -}}
{{- $vols = concat $vols (.volumes | default list) $w.extraVolumes -}}
metadata:
  labels:
    {{- $labels | nindent 4 }}
  {{- with $ann }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  automountServiceAccountToken: {{ $w.automountServiceAccountToken }}
  {{- with $w.serviceAccountName }}
  serviceAccountName: {{ . | quote }}
  {{- end }}
  {{- with $w.priorityClassName }}
  priorityClassName: {{ . | quote }}
  {{- end }}
  {{- with include "destate.workload.imagePullSecretsOf" (list .ctx $v) }}
  {{- . | nindent 2 }}
  {{- end }}
  terminationGracePeriodSeconds: {{ int $w.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml $w.podSecurityContext | nindent 4 }}
  {{- with include "destate.topology.affinity" $sub }}
  affinity:
    {{- . | nindent 4 }}
  {{- end }}
  {{- with include "destate.topology.spreadConstraints" $sub }}
  topologySpreadConstraints:
    {{- . | nindent 4 }}
  {{- end }}
  {{- with $w.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $w.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $inits }}
  initContainers:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    {{- toYaml $containers | nindent 4 }}
  {{- with $vols }}
  volumes:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
destate.workload.statefulset — a whole apps/v1 StatefulSet: serviceName = the headless
Service (destate.topology.headlessService), replicas, podManagementPolicy, ordinals
(when topology.ordinals.start != 0), persistentVolumeClaimRetentionPolicy,
volumeClaimTemplates (persistence), updateStrategy (workload.updateStrategy, default
RollingUpdate), the pod template above. Runs every validation first, and online refuses a
rename of an existing StatefulSet of the release (destate.persistence.renameGuard).
Keys: the common workload arguments (see top of file).
Example:
  {{ include "destate.workload.statefulset" (dict "ctx" $
       "container" (dict "name" "db" "ports" (list (dict "name" "db" "containerPort" 3306)))) }}
*/}}
{{- define "destate.workload.statefulset" -}}
{{- template "destate.args.check" (list . "destate.workload.statefulset" (fromJsonArray (include "destate.workload.argKeys" .))) -}}
{{- template "destate.validate.all" . -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $w := $v.workload -}}
{{- if $v.persistence.existingClaim -}}
{{- template "destate.validate.fail" (list (.path | default "") "persistence.existingClaim" "be empty for a StatefulSet: every pod gets its own claim from volumeClaimTemplates" (printf "%q" $v.persistence.existingClaim)) -}}
{{- end -}}
{{- $sub := pick . "ctx" "values" "component" }}
{{- $name := include "destate.names.fullnameOf" (list $sub.ctx $sub.component) -}}
{{- if gt (len $name) 52 -}}
{{- /* the controller labels each pod NAME-ORDINAL and its revision NAME-HASH10: over 52
characters no pod is ever created */ -}}
{{- template "destate.validate.fail" (list "" "the StatefulSet's name (the release name and fullnameOverride make it)" "be at most 52 characters, as its pods' controller-revision-hash label adds 11 to it: set fullnameOverride or choose a shorter release name" (printf "%q, %d characters" $name (len $name))) -}}
{{- end -}}
{{- template "destate.persistence.renameGuard" (pick . "ctx" "values" "component" "path") }}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  {{- include "destate.labels.metadataOf" $sub | nindent 2 }}
spec:
  serviceName: {{ template "destate.names.headlessOf" (list $sub.ctx $sub.component) }}
  replicas: {{ int $w.replicas }}
  podManagementPolicy: {{ $v.topology.podManagementPolicy }}
  {{- if ne (int $v.topology.ordinals.start) 0 }}
  ordinals:
    start: {{ int $v.topology.ordinals.start }}
  {{- end }}
  revisionHistoryLimit: {{ int $w.revisionHistoryLimit }}
  minReadySeconds: {{ int $w.minReadySeconds }}
  updateStrategy:
    {{- toYaml ($w.updateStrategy | default (dict "type" "RollingUpdate")) | nindent 4 }}
  persistentVolumeClaimRetentionPolicy:
    {{- include "destate.persistence.retentionPolicy" $sub | nindent 4 }}
  selector:
    matchLabels:
      {{- include "destate.labels.selectorOf" (list $sub.ctx $sub.component) | nindent 6 }}
  template:
    {{- include "destate.workload.podTemplate" (set (omit . "kind") "kind" "StatefulSet") | nindent 4 }}
  {{- with include "destate.persistence.volumeClaimTemplates" $sub }}
  volumeClaimTemplates:
    {{- . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
destate.workload.deployment — a whole apps/v1 Deployment: replicas, selector, strategy
(workload.updateStrategy; default Recreate when a ReadWriteOnce(Pod) claim is mounted,
else RollingUpdate, whose rollingUpdate defaults (25%, 25%) are written out so that a later
switch to Recreate can drop them), the pod template above with the "data" claim from
destate.persistence.claim (or an emptyDir). Runs every validation first.
Keys: the common workload arguments (see top of file).
Example: {{ include "destate.workload.deployment" (dict "ctx" $ "container" $c) }}
*/}}
{{- define "destate.workload.deployment" -}}
{{- template "destate.args.check" (list . "destate.workload.deployment" (fromJsonArray (include "destate.workload.argKeys" .))) -}}
{{- template "destate.validate.all" . -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $w := $v.workload -}}
{{- $p := $v.persistence -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $strategy := $w.updateStrategy -}}
{{- if not $strategy -}}
{{- $strategy = dict "type" "RollingUpdate" -}}
{{- if and $p.enabled (or (has "ReadWriteOnce" $p.accessModes) (has "ReadWriteOncePod" $p.accessModes)) -}}
{{- $strategy = dict "type" "Recreate" -}}
{{- end -}}
{{- end -}}
{{- if and (eq (toString $strategy.type | default "RollingUpdate") "RollingUpdate") (not $strategy.rollingUpdate) -}}
{{- /* the API server's defaults, written out so that the release owns them: a later switch
to Recreate then removes them (Helm 4 applies server-side), where a defaulted rollingUpdate
would stay and the API server would refuse the change */ -}}
{{- $strategy = merge (dict "type" "RollingUpdate" "rollingUpdate" (dict "maxSurge" "25%" "maxUnavailable" "25%")) $strategy -}}
{{- end }}
apiVersion: apps/v1
kind: Deployment
metadata:
  {{- include "destate.labels.metadataOf" $sub | nindent 2 }}
spec:
  replicas: {{ int $w.replicas }}
  revisionHistoryLimit: {{ int $w.revisionHistoryLimit }}
  minReadySeconds: {{ int $w.minReadySeconds }}
  strategy:
    {{- toYaml $strategy | nindent 4 }}
  selector:
    matchLabels:
      {{- include "destate.labels.selectorOf" (list $sub.ctx $sub.component) | nindent 6 }}
  template:
    {{- include "destate.workload.podTemplate" (set (omit . "kind") "kind" "Deployment") | nindent 4 }}
{{- end -}}

{{/*
destate.workload.defaults — internal: the `image`, `workload` defaults of this area (YAML), part of
destate.values.defaults; schema/workload.json and schema/image.json document every key.
*/}}
{{- define "destate.workload.defaults" -}}
image:
  repository: ""
  tag: ""
  digest: ""
  pullPolicy: IfNotPresent
  pullSecrets: []
workload:
  replicas: 1
  resources: {}
  podAnnotations: {}
  podLabels: {}
  nodeSelector: {}
  tolerations: []
  priorityClassName: ""
  terminationGracePeriodSeconds: 30
  minReadySeconds: 0
  revisionHistoryLimit: 10
  updateStrategy: {}
  automountServiceAccountToken: false
  serviceAccountName: ""
  podSecurityContext:
    runAsNonRoot: true
    runAsUser: 1000
    runAsGroup: 1000
    fsGroup: 1000
    fsGroupChangePolicy: OnRootMismatch
    seccompProfile:
      type: RuntimeDefault
  securityContext:
    runAsNonRoot: true
    allowPrivilegeEscalation: false
    readOnlyRootFilesystem: true
    capabilities:
      drop: [ALL]
    seccompProfile:
      type: RuntimeDefault
  livenessProbe: {}
  readinessProbe: {}
  startupProbe: {}
  extraEnv: []
  extraEnvFrom: []
  extraVolumes: []
  extraVolumeMounts: []
  extraContainers: []
  initContainers: []
{{- end -}}

{{/*
destate.validate.image — image.repository, .tag and .digest hold what an image reference
holds, nothing that could end a YAML scalar or a shell word.
*/}}
{{- define "destate.validate.image" -}}
{{- if include "destate.validate.once" (list . "image") -}}
{{- $p := .path | default "" -}}
{{- $img := (include "destate.values.key" . | get .ctx.destateValues).image -}}
{{- with $img.repository -}}
{{- template "destate.validate.match" (list $p "image.repository" . "imageRepository" "be an image repository such as registry.example.com:5000/team/app") -}}
{{- end -}}
{{- with $img.tag -}}
{{- template "destate.validate.match" (list $p "image.tag" . "imageTag" "be an image tag: letters, digits, _ . - (at most 128, not starting with . or -)") -}}
{{- end -}}
{{- with $img.digest -}}
{{- template "destate.validate.match" (list $p "image.digest" . "imageDigest" "be an image digest such as sha256:<64 hex digits>") -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.workload — workload.replicas >= 0; serviceAccountName and
priorityClassName are DNS names.
*/}}
{{- define "destate.validate.workload" -}}
{{- if include "destate.validate.once" (list . "workload") -}}
{{- $p := .path | default "" -}}
{{- $w := (include "destate.values.key" . | get .ctx.destateValues).workload -}}
{{- if not (regexMatch "^-?[0-9]+$" ($w.replicas | toString)) -}}
{{- template "destate.validate.fail" (list $p "workload.replicas" "be an integer" (printf "%q" ($w.replicas | toString))) -}}
{{- end -}}
{{- if lt (int $w.replicas) 0 -}}
{{- template "destate.validate.fail" (list $p "workload.replicas" "be >= 0" ($w.replicas | toString)) -}}
{{- end -}}
{{- range $key := list "serviceAccountName" "priorityClassName" -}}
{{- with get $w $key -}}
{{- template "destate.validate.match" (list $p (printf "workload.%s" $key) . "dnsSubdomain" "be a DNS name (lower-case letters, digits, - and .)") -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

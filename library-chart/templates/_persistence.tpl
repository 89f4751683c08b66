{{/*
Persistent state (README.md §1): data that must survive and stay attached to the
right pod. Values: `persistence` (see schema/persistence.json).
The claim is always called "data": pod NAME-N of a StatefulSet gets claim data-NAME-N.
*/}}

{{/*
destate.persistence.storageClassName — a `storageClassName: X` line, or nothing.
"" = global.storageClass when set, else omit (cluster default class), "-" =
storageClassName: "" (no class, static PVs), local.enabled = the local volume set's
StorageClass, else the given name.
Keys: ctx, values, component.
*/}}
{{- define "destate.persistence.storageClassName" -}}
{{- template "destate.args.check" (list . "destate.persistence.storageClassName" list) -}}
{{- $p := (include "destate.values.key" . | get .ctx.destateValues).persistence -}}
{{- if $p.local.enabled -}}
storageClassName: {{ template "destate.persistence.localStorageClassName" (pick . "ctx" "values" "component") }}
{{- else if eq $p.storageClass "-" -}}
storageClassName: ""
{{- else if $p.storageClass -}}
storageClassName: {{ $p.storageClass | quote }}
{{- else if (.ctx.Values.global | default dict).storageClass -}}
storageClassName: {{ (.ctx.Values.global | default dict).storageClass | quote }}
{{- end -}}
{{- end -}}

{{/*
destate.persistence.claimSpec — a PersistentVolumeClaim spec body: accessModes,
storageClassName, resources.requests.storage and dataSource (when set).
Keys: ctx, values, component.
*/}}
{{- define "destate.persistence.claimSpec" -}}
{{- template "destate.args.check" (list . "destate.persistence.claimSpec" list) -}}
{{- $p := (include "destate.values.key" . | get .ctx.destateValues).persistence -}}
accessModes:
  {{- toYaml $p.accessModes | nindent 2 }}
{{- with include "destate.persistence.storageClassName" (pick . "ctx" "values" "component") }}
{{ . }}
{{- end }}
resources:
  requests:
    storage: {{ $p.size | quote }}
{{- with $p.dataSource }}
dataSource:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
destate.persistence.volumeClaimTemplates — the list for a StatefulSet's
spec.volumeClaimTemplates (one claim "data"); empty when persistence.enabled is false.
Labels are the selector labels plus persistence.labels only: volumeClaimTemplates is
immutable, so nothing that changes with the chart version may appear here.
Keys: ctx, values, component.
Example:
  {{- with include "destate.persistence.volumeClaimTemplates" (dict "ctx" $) }}
  volumeClaimTemplates:
    {{- . | nindent 4 }}
  {{- end }}
*/}}
{{- define "destate.persistence.volumeClaimTemplates" -}}
{{- template "destate.args.check" (list . "destate.persistence.volumeClaimTemplates" list) -}}
{{- template "destate.validate.persistence" . -}}
{{- $p := (include "destate.values.key" . | get .ctx.destateValues).persistence -}}
{{- if $p.enabled -}}
{{- $labels := dict -}}
{{- template "destate.labels.selectorInto" (list .ctx .component $labels) -}}
{{- $labels = merge $labels ($p.labels | default dict) -}}
- apiVersion: v1
  kind: PersistentVolumeClaim
  metadata:
    name: data
    labels:
      {{- toYaml $labels | nindent 6 }}
    {{- with $p.annotations }}
    annotations:
      {{- toYaml . | nindent 6 }}
    {{- end }}
  spec:
    {{- include "destate.persistence.claimSpec" (pick . "ctx" "values" "component") | nindent 4 }}
{{- end -}}
{{- end -}}

{{/*
destate.persistence.retentionPolicy — the body of a StatefulSet's
persistentVolumeClaimRetentionPolicy (whenDeleted, whenScaled; Retain|Delete).
Keys: ctx, values, component.
Example:
  persistentVolumeClaimRetentionPolicy:
    {{- include "destate.persistence.retentionPolicy" (dict "ctx" $) | nindent 4 }}
*/}}
{{- define "destate.persistence.retentionPolicy" -}}
{{- template "destate.args.check" (list . "destate.persistence.retentionPolicy" list) -}}
{{- template "destate.validate.persistence" . -}}
{{- $r := (include "destate.values.key" . | get .ctx.destateValues).persistence.retention -}}
whenDeleted: {{ $r.whenDeleted }}
whenScaled: {{ $r.whenScaled }}
{{- end -}}

{{/*
destate.persistence.claimName — claim name for a Deployment: existingClaim, else
FULLNAME[-COMPONENT]-data.
Keys: ctx, values, component.
*/}}
{{- define "destate.persistence.claimName" -}}
{{- template "destate.args.check" (list . "destate.persistence.claimName" list) -}}
{{- $p := (include "destate.values.key" . | get .ctx.destateValues).persistence -}}
{{- $p.existingClaim | default (printf "%s-data" (include "destate.names.fullnameOf" (list .ctx .component))) -}}
{{- end -}}

{{/*
destate.persistence.volumes — pod volume list items for the "data" volume.
kind StatefulSet: nothing when enabled (the claim template provides it), an emptyDir
when disabled. kind Deployment: the claim (existingClaim or the chart's own) when
enabled, an emptyDir when disabled.
Keys: ctx, values, component, kind (StatefulSet|Deployment, required).
*/}}
{{- define "destate.persistence.volumes" -}}
{{- template "destate.args.check" (list . "destate.persistence.volumes" (list "kind")) -}}
{{- $kind := required "destate: destate.persistence.volumes needs kind (StatefulSet|Deployment)" .kind -}}
{{- $p := (include "destate.values.key" . | get .ctx.destateValues).persistence -}}
{{- if not $p.enabled -}}
- name: data
  emptyDir: {}
{{- else if eq $kind "Deployment" -}}
- name: data
  persistentVolumeClaim:
    claimName: {{ template "destate.persistence.claimName" (pick . "ctx" "values" "component") }}
{{- end -}}
{{- end -}}

{{/*
destate.persistence.volumeMounts — the container volumeMounts item for "data" at
persistence.mountPath (with persistence.subPath when set).
Keys: ctx, values, component.
*/}}
{{- define "destate.persistence.volumeMounts" -}}
{{- template "destate.args.check" (list . "destate.persistence.volumeMounts" list) -}}
{{- $p := (include "destate.values.key" . | get .ctx.destateValues).persistence -}}
- name: data
  mountPath: {{ $p.mountPath }}
  {{- with $p.subPath }}
  subPath: {{ . }}
  {{- end }}
{{- end -}}

{{/*
destate.persistence.claim — a whole PersistentVolumeClaim for a Deployment (the
StatefulSet uses volumeClaimTemplates instead). Nothing when persistence is disabled or
existingClaim is set. With retention.whenDeleted=Retain the claim carries
helm.sh/resource-policy: keep, so `helm uninstall` leaves the data.
Keys: ctx, values, component.
Example: {{ include "destate.persistence.claim" (dict "ctx" $) }}
*/}}
{{- define "destate.persistence.claim" -}}
{{- template "destate.args.check" (list . "destate.persistence.claim" list) -}}
{{- template "destate.validate.persistence" . -}}
{{- $p := (include "destate.values.key" . | get .ctx.destateValues).persistence -}}
{{- if and $p.enabled (not $p.existingClaim) -}}
{{- $ann := deepCopy ($p.annotations | default dict) -}}
{{- if eq $p.retention.whenDeleted "Retain" -}}
{{- $_ := set $ann "helm.sh/resource-policy" "keep" -}}
{{- end }}
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  {{- include "destate.labels.metadataOf" (dict "ctx" .ctx "values" (.values | default .ctx.Values) "component" .component "name" (include "destate.persistence.claimName" (pick . "ctx" "values" "component")) "labels" ($p.labels | default dict) "annotations" $ann) | nindent 2 }}
spec:
  {{- include "destate.persistence.claimSpec" (pick . "ctx" "values" "component") | nindent 2 }}
{{- end -}}
{{- end -}}

{{/*
destate.persistence.localStorageClassName — NAMESPACE-FULLNAME-local (cluster-scoped, a
DNS subdomain of up to 253 characters,
so the namespace is part of the name).
Keys: ctx, component.
*/}}
{{- define "destate.persistence.localStorageClassName" -}}
{{- template "destate.args.check" (list . "destate.persistence.localStorageClassName" list) -}}
{{- printf "%s-%s-local" .ctx.Release.Namespace (include "destate.names.fullnameOf" (list .ctx .component)) | trunc 253 | trimSuffix "-" -}}
{{- end -}}

{{/*
destate.persistence.localVolumes — the local volume set when persistence.local.enabled:
a StorageClass (provisioner kubernetes.io/no-provisioner, volumeBindingMode
WaitForFirstConsumer) and one PersistentVolume per entry of persistence.local.nodes,
each with spec.local.path, a required nodeAffinity on kubernetes.io/hostname, the
claim size as capacity, the reclaim policy, and a claimRef that pre-binds volume N to
claim data-STATEFULSET-(ordinals.start+N) (Deployment: FULLNAME-data on the first node),
so each pod always lands on its own node with its own data.
The StorageClass and the volumes carry helm.sh/resource-policy: keep: `helm uninstall`
leaves them (and the claims, with retention whenDeleted=Retain) bound, and a reinstall
adopts them, so the pods get the same volumes back. Without it the volumes stayed
Terminating behind their retained claims and a reinstall waited on them in vain.
Fails when fewer nodes than workload.replicas are listed, and online when one of these
volumes is Released (its claim was deleted): the message gives the command that lets the
re-created claim bind to it again.
Keys: ctx, values, component, kind (StatefulSet (default) | Deployment).
Example: {{ include "destate.persistence.localVolumes" (dict "ctx" $) }}
*/}}
{{- define "destate.persistence.localVolumes" -}}
{{- template "destate.args.check" (list . "destate.persistence.localVolumes" (list "kind")) -}}
{{- template "destate.validate.persistence" . -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $p := $v.persistence -}}
{{- if and $p.enabled $p.local.enabled -}}
{{- $kind := .kind | default "StatefulSet" -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $full := include "destate.names.fullnameOf" (list $sub.ctx $sub.component) -}}
{{- $sc := include "destate.persistence.localStorageClassName" $sub -}}
{{- $start := int $v.topology.ordinals.start -}}
{{- $volumes := list -}}
{{- range $i, $node := $p.local.nodes -}}
{{- if or (eq $kind "StatefulSet") (eq $i 0) -}}
{{- $claim := ternary (printf "data-%s-%d" $full (add $start $i)) (printf "%s-data" $full) (eq $kind "StatefulSet") -}}
{{- $volumes = append $volumes (dict "node" $node "claim" $claim "used" (lt $i (int $v.workload.replicas)) "name" (printf "%s-%s" $.ctx.Release.Namespace $claim | trunc 253 | trimSuffix "-")) -}}
{{- end -}}
{{- end -}}
{{- /* online: a kept volume whose claim was deleted is Released, its claimRef still holds
the old claim's uid, and Kubernetes never binds it to the re-created claim: say how to
get it back instead of leaving the pods Pending (only for the pods that run now: a volume
left by scaling down with whenScaled=Delete matters when scaling up again) */ -}}
{{- $released := list -}}
{{- range $volumes -}}
{{- $live := dict -}}
{{- if .used -}}{{- $live = lookup "v1" "PersistentVolume" "" .name -}}{{- end -}}
{{- if and $live (eq (dig "status" "phase" "" $live) "Released") (dig "spec" "claimRef" "uid" "" $live) -}}
{{- $released = append $released .name -}}
{{- end -}}
{{- end -}}
{{- if $released -}}
{{- $fix := list -}}
{{- range $released -}}
{{- $fix = append $fix (printf "kubectl patch pv %s --type json -p '[{\"op\":\"remove\",\"path\":\"/spec/claimRef/uid\"}]'" .) -}}
{{- end -}}
{{- fail (printf "destate: persistence.local: PersistentVolume %s holds the data of a deleted claim (phase Released, its claimRef keeps the old claim's uid), so Kubernetes will not bind it to the re-created claim and the pod would wait forever. To get the same volume and its data back, clear the old uid and run helm again: %s. To start empty instead, delete the PersistentVolume and empty persistence.local.path (%s) on its node" (join ", " $released) (join "; " $fix) $p.local.path) -}}
{{- end }}
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {{ $sc | quote }}
  labels:
    {{- include "destate.labels.standardOf" $sub | nindent 4 }}
  annotations:
    helm.sh/resource-policy: keep
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: {{ $p.local.reclaimPolicy }}
{{- range $volumes }}
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: {{ .name | quote }}
  labels:
    {{- include "destate.labels.standardOf" $sub | nindent 4 }}
  annotations:
    helm.sh/resource-policy: keep
spec:
  capacity:
    storage: {{ $p.size | quote }}
  volumeMode: Filesystem
  accessModes:
    {{- toYaml $p.accessModes | nindent 4 }}
  persistentVolumeReclaimPolicy: {{ $p.local.reclaimPolicy }}
  storageClassName: {{ $sc | quote }}
  claimRef:
    apiVersion: v1
    kind: PersistentVolumeClaim
    namespace: {{ $.ctx.Release.Namespace | quote }}
    name: {{ .claim | quote }}
  local:
    path: {{ $p.local.path }}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions:
            - key: kubernetes.io/hostname
              operator: In
              values:
                - {{ .node | quote }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
destate.persistence.renameGuard — fails when this release already has a StatefulSet of the
same chart and component under another name. A StatefulSet renamed on upgrade
(fullnameOverride, nameOverride) is deleted and re-created by Helm: its pods get new,
empty claims (data-NEW-N) while data-OLD-N are orphaned, which looks like an empty
database. Online only: `lookup` lists the namespace's StatefulSets with the labels
app.kubernetes.io/instance=RELEASE, the same app.kubernetes.io/component (or none) and a
helm.sh/chart label of this chart; offline (helm template) lookup is empty and this is a
no-op. Nothing to render; include it before the StatefulSet.
Keys: ctx, values, component, path.
*/}}
{{- define "destate.persistence.renameGuard" -}}
{{- template "destate.args.check" (list . "destate.persistence.renameGuard" list) -}}
{{- $p := (include "destate.values.key" . | get .ctx.destateValues).persistence -}}
{{- $name := include "destate.names.fullnameOf" (list .ctx .component) -}}
{{- $release := .ctx.Release.Name -}}
{{- $component := .component | default "" -}}
{{- $chart := printf "%s-" .ctx.Chart.Name -}}
{{- $root := .ctx.Values -}}
{{- $live := lookup "apps/v1" "StatefulSet" .ctx.Release.Namespace "" -}}
{{- range $sts := (get ($live | default dict) "items") | default list -}}
{{- $labels := $sts.metadata.labels | default dict -}}
{{- $theirs := get $labels "app.kubernetes.io/component" | default "" -}}
{{- if and $p.enabled (eq (get $labels "app.kubernetes.io/instance") $release) (eq $theirs $component) (hasPrefix $chart (get $labels "helm.sh/chart" | default "")) (ne $sts.metadata.name $name) (not $sts.metadata.deletionTimestamp) -}}
{{- fail (printf "destate: fullnameOverride (got %q) and nameOverride (got %q) must keep the StatefulSet's name on upgrade: release %s already has StatefulSet %s in namespace %s, and the new name %s would start its pods on new, empty claims (data-%s-N) while data-%s-N stay behind unused. Set them back so the StatefulSet is named %s again, or delete StatefulSet %s first if an empty database is what you want (its claims are kept)" ($root.fullnameOverride | default "" | toString) ($root.nameOverride | default "" | toString) $release $sts.metadata.name $sts.metadata.namespace $name $name $sts.metadata.name $sts.metadata.name $sts.metadata.name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.persistence.off — internal: the overlay laid over the chart's values when its Chart.yaml
does not list the persistence area (see destate.values.areas in _values.tpl).
*/}}
{{- define "destate.persistence.off" -}}
persistence:
  enabled: false
{{- end -}}

{{/*
destate.persistence.defaults — internal: the `persistence` defaults of this area (YAML), part of
destate.values.defaults; schema/persistence.json documents every key.
*/}}
{{- define "destate.persistence.defaults" -}}
persistence:
  enabled: true
  size: 8Gi
  storageClass: ""
  accessModes: [ReadWriteOnce]
  mountPath: /data
  subPath: ""
  annotations: {}
  labels: {}
  dataSource: {}
  existingClaim: ""
  retention:
    whenDeleted: Retain
    whenScaled: Retain
  local:
    enabled: false
    path: /mnt/destate
    nodes: []
    reclaimPolicy: Retain
{{- end -}}

{{/*
destate.validate.persistence — size is a quantity; retention policies Retain|Delete;
accessModes known; local volumes: reclaimPolicy Retain|Delete, an absolute path and at
least workload.replicas nodes.
*/}}
{{- define "destate.validate.persistence" -}}
{{- if include "destate.validate.once" (list . "persistence") -}}
{{- $p := .path | default "" -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $per := $v.persistence -}}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$" ($per.size | toString)) -}}
{{- template "destate.validate.fail" (list $p "persistence.size" "be a Kubernetes quantity such as 8Gi or 500Mi" (printf "%q" ($per.size | toString))) -}}
{{- end -}}
{{- template "destate.validate.enum" (list $p "persistence.retention.whenDeleted" $per.retention.whenDeleted (list "Retain" "Delete")) -}}
{{- template "destate.validate.enum" (list $p "persistence.retention.whenScaled" $per.retention.whenScaled (list "Retain" "Delete")) -}}
{{- template "destate.validate.match" (list $p "persistence.mountPath" $per.mountPath "absPath" "be an absolute path of letters, digits and ._@+- (no spaces, quotes, $, .. or control characters)") -}}
{{- with $per.subPath -}}
{{- template "destate.validate.match" (list $p "persistence.subPath" . "relPath" "be a relative path of letters, digits and ._@+- (no leading /, no .., no spaces or quotes) or empty") -}}
{{- end -}}
{{- with ($.ctx.Values.global | default dict).storageClass -}}
{{- template "destate.validate.match" (list "" "global.storageClass" . "dnsSubdomain" "be a StorageClass name (a DNS name) or empty") -}}
{{- end -}}
{{- with $per.storageClass -}}
{{- if ne . "-" -}}
{{- template "destate.validate.match" (list $p "persistence.storageClass" . "dnsSubdomain" "be a StorageClass name (a DNS name), \"-\" or empty") -}}
{{- end -}}
{{- end -}}
{{- if not $per.accessModes -}}
{{- template "destate.validate.fail" (list $p "persistence.accessModes" "list at least one access mode" "[]") -}}
{{- end -}}
{{- range $per.accessModes -}}
{{- template "destate.validate.enum" (list $p "persistence.accessModes[]" . (list "ReadWriteOnce" "ReadOnlyMany" "ReadWriteMany" "ReadWriteOncePod")) -}}
{{- end -}}
{{- if and $per.enabled $per.local.enabled -}}
{{- template "destate.validate.enum" (list $p "persistence.local.reclaimPolicy" $per.local.reclaimPolicy (list "Retain" "Delete")) -}}
{{- if not (isAbs ($per.local.path | toString)) -}}
{{- template "destate.validate.fail" (list $p "persistence.local.path" "be an absolute path" (printf "%q" ($per.local.path | toString))) -}}
{{- end -}}
{{- template "destate.validate.match" (list $p "persistence.local.path" $per.local.path "absPath" "be an absolute path of letters, digits and ._@+- (no spaces, quotes, $, .. or control characters)") -}}
{{- range $per.local.nodes -}}
{{- template "destate.validate.match" (list $p "persistence.local.nodes[]" . "dnsSubdomain" "be a node name (a DNS name)") -}}
{{- end -}}
{{- $replicas := int $v.workload.replicas -}}
{{- if lt (len $per.local.nodes) $replicas -}}
{{- template "destate.validate.fail" (list $p "persistence.local.nodes" (printf "list at least workload.replicas (%d) nodes, one local volume per pod" $replicas) (printf "%d" (len $per.local.nodes))) -}}
{{- end -}}
{{- if ne (len $per.local.nodes) (len (uniq $per.local.nodes)) -}}
{{- template "destate.validate.fail" (list $p "persistence.local.nodes" "not repeat a node" (toJson $per.local.nodes)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Cluster (topology) state (README.md §3): each pod knows its role (from its stable
ordinal) and is addressable by a stable DNS name (headless Service).
Values: `topology` (see schema/topology.json).
*/}}

{{/*
destate.topology.ports — internal: the Service ports list from the `ports` argument
or topology.ports (list of {name, port, targetPort?, protocol?, appProtocol?}).
*/}}
{{- define "destate.topology.ports" -}}
{{- $ports := .ports -}}
{{- if not $ports -}}{{- $ports = (include "destate.values.key" . | get .ctx.destateValues).topology.ports -}}{{- end -}}
{{- $out := list -}}
{{- range $ports -}}
{{- $port := dict "name" (required "destate: every Service port needs a name" .name) "port" (int (required "destate: every Service port needs a port" .port)) "targetPort" (.targetPort | default .name) "protocol" (.protocol | default "TCP") -}}
{{- with .appProtocol -}}{{- $_ := set $port "appProtocol" . -}}{{- end -}}
{{- $out = append $out $port -}}
{{- end -}}
{{- with $out -}}{{- toYaml . -}}{{- end -}}
{{- end -}}

{{/*
destate.topology.headlessService — the governing headless Service of a StatefulSet:
clusterIP None, publishNotReadyAddresses (topology.publishNotReadyAddresses, default
true, so peers resolve each other while they start), selecting all pods. Gives every
pod the DNS name NAME-N.FULLNAME-headless.NAMESPACE.svc.CLUSTER_DOMAIN.
Keys: ctx, values, component, ports (list, default topology.ports).
Example: {{ include "destate.topology.headlessService" (dict "ctx" $ "ports" (list (dict "name" "mysql" "port" 3306))) }}
*/}}
{{- define "destate.topology.headlessService" -}}
{{- template "destate.args.check" (list . "destate.topology.headlessService" (list "ports")) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $sub := pick . "ctx" "values" "component" }}
apiVersion: v1
kind: Service
metadata:
  {{- include "destate.labels.metadataOf" (merge (dict "name" (include "destate.names.headlessOf" (list $sub.ctx $sub.component))) $sub) | nindent 2 }}
spec:
  type: ClusterIP
  clusterIP: None
  publishNotReadyAddresses: {{ $v.topology.publishNotReadyAddresses }}
  selector:
    {{- include "destate.labels.selectorOf" (list $sub.ctx $sub.component) | nindent 4 }}
  {{- with include "destate.topology.ports" (merge (pick . "ports") $sub) }}
  ports:
    {{- . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
destate.topology.service — a ClusterIP Service over the pods. suffix "" names it
FULLNAME (the main Service of a Deployment); "read" and "primary" are used by
readService/primaryService. `podIndex` (int) narrows the selector to the pod with label
apps.kubernetes.io/pod-index=N. When session.mode is sticky the Service carries the
ClientIP affinity of destate.session.affinity.
Keys: ctx, values, component, ports (default topology.ports), suffix, podIndex,
type (default ClusterIP), annotations.
*/}}
{{- define "destate.topology.service" -}}
{{- template "destate.args.check" (list . "destate.topology.service" (list "ports" "suffix" "podIndex" "type" "annotations")) -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $full := include "destate.names.fullnameOf" (list $sub.ctx $sub.component) -}}
{{- $name := $full -}}
{{- if .suffix -}}{{- $name = printf "%s-%s" ($full | trunc (sub 62 (len .suffix) | int) | trimSuffix "-") .suffix -}}{{- end -}}
{{- /* no trailing trim: the resource starts on its own line */}}
apiVersion: v1
kind: Service
metadata:
  {{- include "destate.labels.metadataOf" (merge (dict "name" $name "annotations" (.annotations | default dict)) $sub) | nindent 2 }}
spec:
  type: {{ .type | default "ClusterIP" }}
  selector:
    {{- include "destate.labels.selectorOf" (list $sub.ctx $sub.component) | nindent 4 }}
    {{- if hasKey . "podIndex" }}
    apps.kubernetes.io/pod-index: {{ .podIndex | int | toString | quote }}
    {{- end }}
  {{- with include "destate.session.affinity" $sub }}
  {{- . | nindent 2 }}
  {{- end }}
  {{- with include "destate.topology.ports" (merge (pick . "ports") $sub) }}
  ports:
    {{- . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/*
destate.topology.primaryService — FULLNAME-primary: selects only the primary pod
(label apps.kubernetes.io/pod-index = topology.primaryOrdinal). Send writes here.
Keys: ctx, values, component, ports.
*/}}
{{- define "destate.topology.primaryService" -}}
{{- template "destate.args.check" (list . "destate.topology.primaryService" (list "ports")) -}}
{{- template "destate.validate.topology" . -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- template "destate.topology.service" (merge (dict "suffix" "primary" "podIndex" (int $v.topology.primaryOrdinal)) (pick . "ctx" "values" "component" "ports")) -}}
{{- end -}}

{{/*
destate.topology.readService — FULLNAME-read: all ready pods (reads, load spread).
Keys: ctx, values, component, ports.
*/}}
{{- define "destate.topology.readService" -}}
{{- template "destate.args.check" (list . "destate.topology.readService" (list "ports")) -}}
{{- template "destate.topology.service" (merge (dict "suffix" "read") (pick . "ctx" "values" "component" "ports")) -}}
{{- end -}}

{{/*
destate.topology.peerAddress — the stable DNS name of pod N:
STATEFULSET-N.HEADLESS.NAMESPACE.svc.CLUSTER_DOMAIN.
Keys: ctx, values, component, ordinal (int, required).
Example: {{ include "destate.topology.peerAddress" (dict "ctx" $ "ordinal" 2) }}
*/}}
{{- define "destate.topology.peerAddress" -}}
{{- template "destate.args.check" (list . "destate.topology.peerAddress" (list "ordinal")) -}}
{{- if not (hasKey . "ordinal") -}}{{- fail "destate: destate.topology.peerAddress needs ordinal" -}}{{- end -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- template "destate.topology.peerAddressOf" (list .ctx .component $v .ordinal) -}}
{{- end -}}

{{/*
destate.topology.peerAddressOf — internal: destate.topology.peerAddress without the argument
guard, for the library's own calls (the values tree already read).
Usage: include "destate.topology.peerAddressOf" (list $ctx $component $valuesTree $ordinal)
*/}}
{{- define "destate.topology.peerAddressOf" -}}
{{- $ctx := index . 0 -}}{{- $component := index . 1 -}}
{{- printf "%s-%d.%s.%s.svc.%s" (include "destate.names.fullnameOf" (list $ctx $component)) (int (index . 3)) (include "destate.names.headlessOf" (list $ctx $component)) $ctx.Release.Namespace (index . 2).topology.clusterDomain -}}
{{- end -}}

{{/*
destate.topology.primaryHost — peerAddress of topology.primaryOrdinal.
Keys: ctx, values, component.
*/}}
{{- define "destate.topology.primaryHost" -}}
{{- template "destate.args.check" (list . "destate.topology.primaryHost" list) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- template "destate.topology.peerAddressOf" (list .ctx .component $v $v.topology.primaryOrdinal) -}}
{{- end -}}

{{/*
destate.topology.replicaAddresses — the stable DNS names (peerAddress) of every pod that is
not the primary, ordinals topology.ordinals.start .. start+workload.replicas-1 (JSON list),
for clients and test pods that talk to each replica by name.
Keys: ctx, values, component.
Example: {{ $replicas := include "destate.topology.replicaAddresses" (dict "ctx" $) | fromJsonArray }}
*/}}
{{- define "destate.topology.replicaAddresses" -}}
{{- template "destate.args.check" (list . "destate.topology.replicaAddresses" list) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $start := int $v.topology.ordinals.start -}}
{{- $out := list -}}
{{- range $i := until (int $v.workload.replicas) -}}
{{- $ordinal := add $start $i -}}
{{- if ne (int $ordinal) (int $v.topology.primaryOrdinal) -}}
{{- $out = append $out (include "destate.topology.peerAddressOf" (list $.ctx $.component $v $ordinal)) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
destate.topology.role — ordinal -> role at render time: "primary" when ordinal equals
topology.primaryOrdinal, else "replica". Keys: ctx, values, component, ordinal (int).
*/}}
{{- define "destate.topology.role" -}}
{{- template "destate.args.check" (list . "destate.topology.role" (list "ordinal")) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- if eq (int .ordinal) (int $v.topology.primaryOrdinal) -}}primary{{- else -}}replica{{- end -}}
{{- end -}}

{{/*
destate.topology.roleScript — the same mapping for start scripts (POSIX sh): sets and
exports POD_ORDINAL (from the env, else the hostname suffix) and POD_ROLE
(primary|replica). Keys: ctx, values, component.
Example (in a ConfigMap script):  {{- include "destate.topology.roleScript" (dict "ctx" $) | nindent 4 }}
*/}}
{{- define "destate.topology.roleScript" -}}
{{- template "destate.args.check" (list . "destate.topology.roleScript" list) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
POD_ORDINAL="${POD_ORDINAL:-${HOSTNAME##*-}}"
if [ "$POD_ORDINAL" = "{{ int $v.topology.primaryOrdinal }}" ]; then POD_ROLE=primary; else POD_ROLE=replica; fi
export POD_ORDINAL POD_ROLE
{{- end -}}

{{/*
destate.topology.identityEnv — container env items for pod identity:
POD_NAME, POD_NAMESPACE (downward API); with kind StatefulSet (default) also
POD_ORDINAL (downward API label apps.kubernetes.io/pod-index), HEADLESS_SERVICE,
CLUSTER_DOMAIN, POD_FQDN, PRIMARY_ORDINAL and PRIMARY_HOST.
Keys: ctx, values, component, kind (StatefulSet|Deployment).
Example:
  env:
    {{- include "destate.topology.identityEnv" (dict "ctx" $) | nindent 4 }}
*/}}
{{- define "destate.topology.identityEnv" -}}
{{- template "destate.args.check" (list . "destate.topology.identityEnv" (list "kind")) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $sub := pick . "ctx" "values" "component" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- if eq (.kind | default "StatefulSet") "StatefulSet" }}
- name: POD_ORDINAL
  valueFrom:
    fieldRef:
      fieldPath: metadata.labels['apps.kubernetes.io/pod-index']
- name: HEADLESS_SERVICE
  value: {{ include "destate.names.headlessOf" (list $sub.ctx $sub.component) | quote }}
- name: CLUSTER_DOMAIN
  value: {{ $v.topology.clusterDomain | quote }}
- name: POD_FQDN
  value: "$(POD_NAME).$(HEADLESS_SERVICE).$(POD_NAMESPACE).svc.$(CLUSTER_DOMAIN)"
- name: PRIMARY_ORDINAL
  value: {{ int $v.topology.primaryOrdinal | toString | quote }}
- name: PRIMARY_HOST
  value: {{ include "destate.topology.peerAddressOf" (list $sub.ctx $sub.component $v $v.topology.primaryOrdinal) | quote }}
{{- end }}
{{- end -}}

{{/*
destate.topology.pdb — a policy/v1 PodDisruptionBudget (maxUnavailable, or
minAvailable when topology.pdb.minAvailable is set) over the pods; nothing when
topology.pdb.enabled is false. Keys: ctx, values, component.
*/}}
{{- define "destate.topology.pdb" -}}
{{- template "destate.args.check" (list . "destate.topology.pdb" list) -}}
{{- template "destate.validate.topology" . -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- if $v.topology.pdb.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  {{- include "destate.labels.metadataOf" $sub | nindent 2 }}
spec:
  {{- if hasKey $v.topology.pdb "minAvailable" }}
  minAvailable: {{ $v.topology.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ $v.topology.pdb.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "destate.labels.selectorOf" (list $sub.ctx $sub.component) | nindent 6 }}
{{- end }}
{{- end -}}

{{/*
destate.topology.affinity — the pod `affinity` body: topology.affinity verbatim when
set; else pod anti-affinity by topology.antiAffinity: soft = preferred (weight 100),
hard = required, none = nothing; topologyKey topology.antiAffinityTopologyKey.
Keys: ctx, values, component.
*/}}
{{- define "destate.topology.affinity" -}}
{{- template "destate.args.check" (list . "destate.topology.affinity" list) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $t := $v.topology -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- if $t.affinity -}}
{{- toYaml $t.affinity -}}
{{- else if eq $t.antiAffinity "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: {{ $t.antiAffinityTopologyKey }}
        labelSelector:
          matchLabels:
            {{- include "destate.labels.selectorOf" (list $sub.ctx $sub.component) | nindent 12 }}
{{- else if eq $t.antiAffinity "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: {{ $t.antiAffinityTopologyKey }}
      labelSelector:
        matchLabels:
          {{- include "destate.labels.selectorOf" (list $sub.ctx $sub.component) | nindent 10 }}
{{- end -}}
{{- end -}}

{{/*
destate.topology.spreadConstraints — topology.topologySpreadConstraints as a list; an
entry without labelSelector gets the pods' selector labels.
Keys: ctx, values, component.
*/}}
{{- define "destate.topology.spreadConstraints" -}}
{{- template "destate.args.check" (list . "destate.topology.spreadConstraints" list) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $sel := fromYaml (include "destate.labels.selectorOf" (list .ctx .component)) -}}
{{- $out := list -}}
{{- range $v.topology.topologySpreadConstraints -}}
{{- $c := deepCopy . -}}
{{- if not (hasKey $c "labelSelector") -}}
{{- $_ := set $c "labelSelector" (dict "matchLabels" $sel) -}}
{{- end -}}
{{- $out = append $out $c -}}
{{- end -}}
{{- if $out -}}{{- toYaml $out -}}{{- end -}}
{{- end -}}

{{/*
destate.topology.off — internal: the overlay laid over the chart's values when its Chart.yaml
does not list the topology area (see destate.values.areas in _values.tpl).
*/}}
{{- define "destate.topology.off" -}}
topology:
  pdb:
    enabled: false
{{- end -}}

{{/*
destate.topology.defaults — internal: the `topology` defaults of this area (YAML), part of
destate.values.defaults; schema/topology.json documents every key.
*/}}
{{- define "destate.topology.defaults" -}}
topology:
  clusterDomain: cluster.local
  podManagementPolicy: OrderedReady
  ordinals:
    start: 0
  primaryOrdinal: 0
  publishNotReadyAddresses: true
  ports: []
  pdb:
    enabled: true
    maxUnavailable: 1
  antiAffinity: soft
  affinity: {}
  antiAffinityTopologyKey: kubernetes.io/hostname
  topologySpreadConstraints: []
{{- end -}}

{{/*
destate.validate.topology — podManagementPolicy, antiAffinity, ordinals.start >= 0,
primaryOrdinal among the pods (ordinals.start .. start+replicas-1), clusterDomain a DNS
name (it reaches scripts and .cnf files through POD_FQDN), antiAffinityTopologyKey a label key.
*/}}
{{- define "destate.validate.topology" -}}
{{- if include "destate.validate.once" (list . "topology") -}}
{{- $p := .path | default "" -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $t := $v.topology -}}
{{- template "destate.validate.enum" (list $p "topology.podManagementPolicy" $t.podManagementPolicy (list "OrderedReady" "Parallel")) -}}
{{- template "destate.validate.enum" (list $p "topology.antiAffinity" $t.antiAffinity (list "soft" "hard" "none")) -}}
{{- $start := int $t.ordinals.start -}}
{{- if lt $start 0 -}}
{{- template "destate.validate.fail" (list $p "topology.ordinals.start" "be >= 0" ($t.ordinals.start | toString)) -}}
{{- end -}}
{{- $primary := int $t.primaryOrdinal -}}
{{- $replicas := int $v.workload.replicas -}}
{{- if or (lt $primary $start) (and (gt $replicas 0) (ge $primary (add $start $replicas))) -}}
{{- template "destate.validate.fail" (list $p "topology.primaryOrdinal" (printf "be an existing pod ordinal (%d..%d)" $start (sub (add $start (max $replicas 1)) 1)) ($t.primaryOrdinal | toString)) -}}
{{- end -}}
{{- if not $t.clusterDomain -}}
{{- template "destate.validate.fail" (list $p "topology.clusterDomain" "not be empty" `""`) -}}
{{- end -}}
{{- template "destate.validate.match" (list $p "topology.clusterDomain" $t.clusterDomain "dnsSubdomain" "be a DNS name (lower-case letters, digits, - and .)") -}}
{{- template "destate.validate.match" (list $p "topology.antiAffinityTopologyKey" $t.antiAffinityTopologyKey "labelKey" "be a label key such as kubernetes.io/hostname") -}}
{{- end -}}
{{- end -}}

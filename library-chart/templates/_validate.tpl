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
{{- include "destate.validate.fail" (list $path $key (printf "be one of %s" (join "|" $allowed)) (printf "%q" ($val | toString))) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.workload — workload.replicas >= 0.
*/}}
{{- define "destate.validate.workload" -}}
{{- $p := .path | default "" -}}
{{- $w := (fromJson (include "destate.values.get" .)).workload -}}
{{- if not (regexMatch "^-?[0-9]+$" ($w.replicas | toString)) -}}
{{- include "destate.validate.fail" (list $p "workload.replicas" "be an integer" (printf "%q" ($w.replicas | toString))) -}}
{{- end -}}
{{- if lt (int $w.replicas) 0 -}}
{{- include "destate.validate.fail" (list $p "workload.replicas" "be >= 0" ($w.replicas | toString)) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.persistence — size is a quantity; retention policies Retain|Delete;
accessModes known; local volumes: reclaimPolicy Retain|Delete, an absolute path and at
least workload.replicas nodes.
*/}}
{{- define "destate.validate.persistence" -}}
{{- $p := .path | default "" -}}
{{- $v := fromJson (include "destate.values.get" .) -}}
{{- $per := $v.persistence -}}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$" ($per.size | toString)) -}}
{{- include "destate.validate.fail" (list $p "persistence.size" "be a Kubernetes quantity such as 8Gi or 500Mi" (printf "%q" ($per.size | toString))) -}}
{{- end -}}
{{- include "destate.validate.enum" (list $p "persistence.retention.whenDeleted" $per.retention.whenDeleted (list "Retain" "Delete")) -}}
{{- include "destate.validate.enum" (list $p "persistence.retention.whenScaled" $per.retention.whenScaled (list "Retain" "Delete")) -}}
{{- if not $per.accessModes -}}
{{- include "destate.validate.fail" (list $p "persistence.accessModes" "list at least one access mode" "[]") -}}
{{- end -}}
{{- range $per.accessModes -}}
{{- include "destate.validate.enum" (list $p "persistence.accessModes[]" . (list "ReadWriteOnce" "ReadOnlyMany" "ReadWriteMany" "ReadWriteOncePod")) -}}
{{- end -}}
{{- if and $per.enabled $per.local.enabled -}}
{{- include "destate.validate.enum" (list $p "persistence.local.reclaimPolicy" $per.local.reclaimPolicy (list "Retain" "Delete")) -}}
{{- if not (isAbs ($per.local.path | toString)) -}}
{{- include "destate.validate.fail" (list $p "persistence.local.path" "be an absolute path" (printf "%q" ($per.local.path | toString))) -}}
{{- end -}}
{{- $replicas := int $v.workload.replicas -}}
{{- if lt (len $per.local.nodes) $replicas -}}
{{- include "destate.validate.fail" (list $p "persistence.local.nodes" (printf "list at least workload.replicas (%d) nodes, one local volume per pod" $replicas) (printf "%d" (len $per.local.nodes))) -}}
{{- end -}}
{{- if ne (len $per.local.nodes) (len (uniq $per.local.nodes)) -}}
{{- include "destate.validate.fail" (list $p "persistence.local.nodes" "not repeat a node" (toJson $per.local.nodes)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.config — absolute mount paths; files and existingConfigMap (and
secrets and existingSecret) are exclusive; passwordLength >= 8.
*/}}
{{- define "destate.validate.config" -}}
{{- $p := .path | default "" -}}
{{- $c := (fromJson (include "destate.values.get" .)).config -}}
{{- if not (isAbs ($c.mountPath | toString)) -}}
{{- include "destate.validate.fail" (list $p "config.mountPath" "be an absolute path" (printf "%q" ($c.mountPath | toString))) -}}
{{- end -}}
{{- if and $c.secretMountPath (not (isAbs ($c.secretMountPath | toString))) -}}
{{- include "destate.validate.fail" (list $p "config.secretMountPath" "be an absolute path or empty" (printf "%q" ($c.secretMountPath | toString))) -}}
{{- end -}}
{{- if and $c.files $c.existingConfigMap -}}
{{- include "destate.validate.fail" (list $p "config.existingConfigMap" "be empty when config.files is set (use one or the other)" (printf "%q" $c.existingConfigMap)) -}}
{{- end -}}
{{- if and $c.secrets $c.existingSecret -}}
{{- include "destate.validate.fail" (list $p "config.existingSecret" "be empty when config.secrets is set (use one or the other)" (printf "%q" $c.existingSecret)) -}}
{{- end -}}
{{- if lt (int $c.passwordLength) 8 -}}
{{- include "destate.validate.fail" (list $p "config.passwordLength" "be >= 8" ($c.passwordLength | toString)) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.topology — podManagementPolicy, antiAffinity, ordinals.start >= 0,
primaryOrdinal among the pods (ordinals.start .. start+replicas-1), clusterDomain set.
*/}}
{{- define "destate.validate.topology" -}}
{{- $p := .path | default "" -}}
{{- $v := fromJson (include "destate.values.get" .) -}}
{{- $t := $v.topology -}}
{{- include "destate.validate.enum" (list $p "topology.podManagementPolicy" $t.podManagementPolicy (list "OrderedReady" "Parallel")) -}}
{{- include "destate.validate.enum" (list $p "topology.antiAffinity" $t.antiAffinity (list "soft" "hard" "none")) -}}
{{- $start := int $t.ordinals.start -}}
{{- if lt $start 0 -}}
{{- include "destate.validate.fail" (list $p "topology.ordinals.start" "be >= 0" ($t.ordinals.start | toString)) -}}
{{- end -}}
{{- $primary := int $t.primaryOrdinal -}}
{{- $replicas := int $v.workload.replicas -}}
{{- if or (lt $primary $start) (and (gt $replicas 0) (ge $primary (add $start $replicas))) -}}
{{- include "destate.validate.fail" (list $p "topology.primaryOrdinal" (printf "be an existing pod ordinal (%d..%d)" $start (sub (add $start (max $replicas 1)) 1)) ($t.primaryOrdinal | toString)) -}}
{{- end -}}
{{- if not $t.clusterDomain -}}
{{- include "destate.validate.fail" (list $p "topology.clusterDomain" "not be empty" `""`) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.session — mode none|store|sticky; sticky.timeoutSeconds 1..86400;
cookie mode persistent|balanced; a store that is not embedded needs existingSecret.
*/}}
{{- define "destate.validate.session" -}}
{{- $p := .path | default "" -}}
{{- $s := (fromJson (include "destate.values.get" .)).session -}}
{{- include "destate.validate.enum" (list $p "session.mode" $s.mode (list "none" "store" "sticky")) -}}
{{- if eq $s.mode "sticky" -}}
{{- $t := $s.sticky.timeoutSeconds -}}
{{- if or (not (regexMatch "^[0-9]+$" ($t | toString))) (lt (int $t) 1) (gt (int $t) 86400) -}}
{{- include "destate.validate.fail" (list $p "session.sticky.timeoutSeconds" "be an integer in 1..86400" ($t | toString)) -}}
{{- end -}}
{{- include "destate.validate.enum" (list $p "session.sticky.cookie.mode" $s.sticky.cookie.mode (list "persistent" "balanced")) -}}
{{- end -}}
{{- if and (eq $s.mode "store") (not $s.store.embedded) (not $s.store.existingSecret) -}}
{{- include "destate.validate.fail" (list $p "session.store.existingSecret" "name the Secret holding the store URL when session.store.embedded is false" `""`) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.connection — mode none|ingress|gateway|envoy|client; port 1..65535;
ingress: backendProtocol GRPC|GRPCS and TLS required; gateway: parentRefs required;
envoy: lbPolicy ROUND_ROBIN|LEAST_REQUEST; client: maxConnectionAgeSeconds >= 1.
*/}}
{{- define "destate.validate.connection" -}}
{{- $p := .path | default "" -}}
{{- $con := (fromJson (include "destate.values.get" .)).connection -}}
{{- include "destate.validate.enum" (list $p "connection.mode" $con.mode (list "none" "ingress" "gateway" "envoy" "client")) -}}
{{- if or (lt (int $con.port) 1) (gt (int $con.port) 65535) -}}
{{- include "destate.validate.fail" (list $p "connection.port" "be a port number in 1..65535" ($con.port | toString)) -}}
{{- end -}}
{{- if eq $con.mode "ingress" -}}
{{- include "destate.validate.enum" (list $p "connection.ingress.backendProtocol" $con.ingress.backendProtocol (list "GRPC" "GRPCS")) -}}
{{- if not $con.ingress.tls.secretName -}}
{{- include "destate.validate.fail" (list $p "connection.ingress.tls.secretName" "name a TLS Secret: gRPC through ingress-nginx needs TLS (HTTP/2) at the ingress" `""`) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $con.mode "gateway") (not $con.gateway.parentRefs) -}}
{{- include "destate.validate.fail" (list $p "connection.gateway.parentRefs" "list at least one Gateway for the GRPCRoute" "[]") -}}
{{- end -}}
{{- if eq $con.mode "envoy" -}}
{{- include "destate.validate.enum" (list $p "connection.envoy.lbPolicy" $con.envoy.lbPolicy (list "ROUND_ROBIN" "LEAST_REQUEST")) -}}
{{- end -}}
{{- if and (eq $con.mode "client") (lt (int $con.client.maxConnectionAgeSeconds) 1) -}}
{{- include "destate.validate.fail" (list $p "connection.client.maxConnectionAgeSeconds" "be >= 1" ($con.client.maxConnectionAgeSeconds | toString)) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.all — every area's validation. Keys: ctx, values, path.
Example (first line of a chart template): {{- include "destate.validate.all" (dict "ctx" $) }}
*/}}
{{- define "destate.validate.all" -}}
{{- $a := pick . "ctx" "values" "path" -}}
{{- include "destate.validate.workload" $a -}}
{{- include "destate.validate.persistence" $a -}}
{{- include "destate.validate.config" $a -}}
{{- include "destate.validate.topology" $a -}}
{{- include "destate.validate.session" $a -}}
{{- include "destate.validate.connection" $a -}}
{{- end -}}

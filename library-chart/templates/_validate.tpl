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
destate.validate.re — internal: the named pattern (RE2, the same as in schema/*.json) that
every value reaching a name, a path, a shell script, SQL or generated config must match.
Usage: include "destate.validate.re" "dnsSubdomain"
*/}}
{{- define "destate.validate.re" -}}
{{- $seg := `\.?[A-Za-z0-9_@+-][A-Za-z0-9._@+-]*` -}}
{{- $dns := `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*` -}}
{{- $re := dict
  "dnsLabel" `^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`
  "dnsSubdomain" (printf "^%s$" $dns)
  "hostname" (printf `^(\*\.)?%s$` $dns)
  "absPath" (printf "^(/%s)+/?$" $seg)
  "relPath" (printf "^%s(/%s)*$" $seg $seg)
  "key" `^[-._a-zA-Z0-9]+$`
  "envName" `^[A-Za-z_][A-Za-z0-9_]*$`
  "labelKey" (printf `^(%s/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$` $dns)
  "ipAddress" `^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$`
  "urlPath" `^/[A-Za-z0-9._~/-]*$`
  "cookieName" `^[A-Za-z0-9_.-]+$`
  "imageRepository" `^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(:[0-9]+)?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*$`
  "imageTag" `^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`
  "imageDigest" `^[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$`
  "urlSafePassword" `^[A-Za-z0-9._~-]{8,128}$`
-}}
{{- required (printf "destate: no pattern %q" .) (get $re .) -}}
{{- end -}}

{{/*
destate.validate.match — internal: fail unless the value (as a string) matches the named
pattern (destate.validate.re) and fits 253 characters (63 for a dnsLabel); RULE says what
it must be. Empty values are checked too: call it under `with` for optional values.
Usage: include "destate.validate.match" (list $prefix "a.path" $value "absPath" "be ...")
*/}}
{{- define "destate.validate.match" -}}
{{- $val := index . 2 | toString -}}
{{- $name := index . 3 -}}
{{- $max := ternary 63 253 (eq $name "dnsLabel") -}}
{{- if or (not (regexMatch (include "destate.validate.re" $name) $val)) (gt (len $val) $max) -}}
{{- include "destate.validate.fail" (list (index . 0) (index . 1) (index . 4) (printf "%q" $val)) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.names — nameOverride and fullnameOverride (chart root values): DNS labels,
so names, labels and the scripts that see them hold nothing else.
*/}}
{{- define "destate.validate.names" -}}
{{- range $key := list "nameOverride" "fullnameOverride" -}}
{{- with get $.ctx.Values $key -}}
{{- include "destate.validate.match" (list "" $key . "dnsLabel" "be a DNS label: at most 63 lower-case letters, digits and -, starting and ending with a letter or digit") -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.image — image.repository, .tag and .digest hold what an image reference
holds, nothing that could end a YAML scalar or a shell word.
*/}}
{{- define "destate.validate.image" -}}
{{- $p := .path | default "" -}}
{{- $img := (fromJson (include "destate.values.get" .)).image -}}
{{- with $img.repository -}}
{{- include "destate.validate.match" (list $p "image.repository" . "imageRepository" "be an image repository such as registry.example.com:5000/team/app") -}}
{{- end -}}
{{- with $img.tag -}}
{{- include "destate.validate.match" (list $p "image.tag" . "imageTag" "be an image tag: letters, digits, _ . - (at most 128, not starting with . or -)") -}}
{{- end -}}
{{- with $img.digest -}}
{{- include "destate.validate.match" (list $p "image.digest" . "imageDigest" "be an image digest such as sha256:<64 hex digits>") -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.workload — workload.replicas >= 0; serviceAccountName and
priorityClassName are DNS names.
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
{{- range $key := list "serviceAccountName" "priorityClassName" -}}
{{- with get $w $key -}}
{{- include "destate.validate.match" (list $p (printf "workload.%s" $key) . "dnsSubdomain" "be a DNS name (lower-case letters, digits, - and .)") -}}
{{- end -}}
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
{{- include "destate.validate.match" (list $p "persistence.mountPath" $per.mountPath "absPath" "be an absolute path of letters, digits and ._@+- (no spaces, quotes, $, .. or control characters)") -}}
{{- with $per.subPath -}}
{{- include "destate.validate.match" (list $p "persistence.subPath" . "relPath" "be a relative path of letters, digits and ._@+- (no leading /, no .., no spaces or quotes) or empty") -}}
{{- end -}}
{{- with $per.storageClass -}}
{{- if ne . "-" -}}
{{- include "destate.validate.match" (list $p "persistence.storageClass" . "dnsSubdomain" "be a StorageClass name (a DNS name), \"-\" or empty") -}}
{{- end -}}
{{- end -}}
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
{{- include "destate.validate.match" (list $p "persistence.local.path" $per.local.path "absPath" "be an absolute path of letters, digits and ._@+- (no spaces, quotes, $, .. or control characters)") -}}
{{- range $per.local.nodes -}}
{{- include "destate.validate.match" (list $p "persistence.local.nodes[]" . "dnsSubdomain" "be a node name (a DNS name)") -}}
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
destate.validate.config — absolute mount paths of safe characters; file names are
ConfigMap keys; files and existingConfigMap (and secrets and existingSecret) are exclusive
and existing* are DNS names; passwordLength >= 8.
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
{{- include "destate.validate.match" (list $p "config.mountPath" $c.mountPath "absPath" "be an absolute path of letters, digits and ._@+- (no spaces, quotes, $, .. or control characters)") -}}
{{- with $c.secretMountPath -}}
{{- include "destate.validate.match" (list $p "config.secretMountPath" . "absPath" "be an absolute path of letters, digits and ._@+- (no spaces, quotes, $, .. or control characters)") -}}
{{- end -}}
{{- range $area := list "files" "secrets" -}}
{{- range $name, $_ := get $c $area -}}
{{- if or (not (regexMatch (include "destate.validate.re" "key") $name)) (has $name (list "." "..")) (gt (len $name) 253) -}}
{{- include "destate.validate.fail" (list $p (printf "config.%s" $area) "have file names of letters, digits and ._- (not . or ..)" (printf "%q" $name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $key := list "existingConfigMap" "existingSecret" -}}
{{- with get $c $key -}}
{{- include "destate.validate.match" (list $p (printf "config.%s" $key) . "dnsSubdomain" "be the name of a ConfigMap or Secret (a DNS name) or empty") -}}
{{- end -}}
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
primaryOrdinal among the pods (ordinals.start .. start+replicas-1), clusterDomain a DNS
name (it reaches scripts and .cnf files through POD_FQDN), antiAffinityTopologyKey a label key.
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
{{- include "destate.validate.match" (list $p "topology.clusterDomain" $t.clusterDomain "dnsSubdomain" "be a DNS name (lower-case letters, digits, - and .)") -}}
{{- include "destate.validate.match" (list $p "topology.antiAffinityTopologyKey" $t.antiAffinityTopologyKey "labelKey" "be a label key such as kubernetes.io/hostname") -}}
{{- end -}}

{{/*
destate.validate.session — mode none|store|sticky; sticky.timeoutSeconds 1..86400;
cookie mode persistent|balanced, cookie name and path of safe characters; env names;
a store that is not embedded needs existingSecret; the embedded Redis has at most one pod,
and its auth.password (URL-safe) and auth.existingSecret exclude each other.
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
{{- include "destate.validate.match" (list $p "session.sticky.cookie.name" $s.sticky.cookie.name "cookieName" "be a cookie name of letters, digits and _.-") -}}
{{- include "destate.validate.match" (list $p "session.sticky.cookie.path" $s.sticky.cookie.path "urlPath" "be a URL path of letters, digits and ._~/- starting with /") -}}
{{- range $key := list "url" "backend" -}}
{{- include "destate.validate.match" (list $p (printf "session.store.env.%s" $key) (get $s.store.env $key) "envName" "be an environment variable name (letters, digits, _; not starting with a digit)") -}}
{{- end -}}
{{- include "destate.validate.match" (list $p "session.store.urlKey" $s.store.urlKey "key" "be a Secret key of letters, digits and ._-") -}}
{{- with $s.store.existingSecret -}}
{{- include "destate.validate.match" (list $p "session.store.existingSecret" . "dnsSubdomain" "be a Secret name (a DNS name) or empty") -}}
{{- end -}}
{{- $r := $s.store.redis -}}
{{- if and (eq $s.mode "store") $s.store.embedded (not $s.store.existingSecret) -}}
{{- if gt (int $r.workload.replicas) 1 -}}
{{- include "destate.validate.fail" (list $p "session.store.redis.workload.replicas" "be 0 or 1: the embedded Redis is one instance without replication, and more pods would be separate stores behind one Service, each visitor's session on a random one (for more, run a replicated Redis and name it in session.store.existingSecret)" (toJson $r.workload.replicas)) -}}
{{- end -}}
{{- end -}}
{{- with $r.auth.existingSecret -}}
{{- include "destate.validate.match" (list $p "session.store.redis.auth.existingSecret" . "dnsSubdomain" "be a Secret name (a DNS name) or empty") -}}
{{- end -}}
{{- with $r.auth.password -}}
{{- include "destate.validate.match" (list $p "session.store.redis.auth.password" . "urlSafePassword" "be 8..128 letters, digits and ._~- (it goes into the store URL and redis.conf unescaped) or empty") -}}
{{- if $r.auth.existingSecret -}}
{{- include "destate.validate.fail" (list $p "session.store.redis.auth.password" "be empty when session.store.redis.auth.existingSecret is set (use one or the other)" `"…"`) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.duration — internal: fail unless the value is an Envoy duration in seconds
("1s", "0.25s"; nothing else can reach envoy.yaml); with `positive`, also > 0s.
Usage: include "destate.validate.duration" (list $prefix "a.timeout" $value true)
*/}}
{{- define "destate.validate.duration" -}}
{{- $path := index . 0 -}}{{- $key := index . 1 -}}{{- $val := index . 2 | toString -}}
{{- if not (regexMatch "^[0-9]{1,9}([.][0-9]{1,9})?s$" $val) -}}
{{- include "destate.validate.fail" (list $path $key "be a duration in seconds such as 10s or 0.25s" (printf "%q" $val)) -}}
{{- else if and (index . 3) (not (regexMatch "[1-9]" $val)) -}}
{{- include "destate.validate.fail" (list $path $key "be a duration > 0s" (printf "%q" $val)) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.intRange — internal: fail unless the value is an integer in min..max.
Usage: include "destate.validate.intRange" (list $prefix "a.count" $value 1 100)
*/}}
{{- define "destate.validate.intRange" -}}
{{- $path := index . 0 -}}{{- $key := index . 1 -}}{{- $val := index . 2 -}}
{{- $min := index . 3 | int64 -}}{{- $max := index . 4 | int64 -}}
{{- $got := toJson $val -}}
{{- if or (not (regexMatch "^-?[0-9]+$" $got)) (lt (int64 $val) $min) (gt (int64 $val) $max) -}}
{{- include "destate.validate.fail" (list $path $key (printf "be an integer in %d..%d" $min $max) $got) -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.connection — mode none|ingress|gateway|envoy|client; port 1..65535;
ingress: backendProtocol GRPC|GRPCS and TLS required; gateway: parentRefs required;
envoy: lbPolicy ROUND_ROBIN|LEAST_REQUEST; client: maxConnectionAgeSeconds >= 1.
tls: GRPCS needs connection.tls.existingSecret and a TLS server needs GRPCS; no TLS
with gateway (no BackendTLSPolicy is rendered); healthPort differs from port.
Envoy limits and timeouts (always: the Envoy config renders in every mode): durations
in seconds, integers within Envoy's bounds.
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
{{- /* values that reach envoy.yaml, nginx and env: only their own characters */ -}}
{{- include "destate.validate.match" (list $p "connection.envoy.listenAddress" $con.envoy.listenAddress "ipAddress" "be an IP address such as 0.0.0.0, 127.0.0.1 or ::") -}}
{{- with $con.envoy.upstream.host -}}
{{- include "destate.validate.match" (list $p "connection.envoy.upstream.host" . "dnsSubdomain" "be a DNS name (lower-case letters, digits, - and .) or empty") -}}
{{- end -}}
{{- with $con.envoy.healthCheck.serviceName -}}
{{- include "destate.validate.match" (list $p "connection.envoy.healthCheck.serviceName" . "key" "be a gRPC service name of letters, digits and ._- or empty") -}}
{{- end -}}
{{- range $key := list "maxConnectionAge" "maxConnectionAgeGrace" -}}
{{- include "destate.validate.match" (list $p (printf "connection.client.env.%s" $key) (get $con.client.env $key) "envName" "be an environment variable name (letters, digits, _; not starting with a digit)") -}}
{{- end -}}
{{- with $con.ingress.host -}}
{{- include "destate.validate.match" (list $p "connection.ingress.host" . "hostname" "be a host name (lower-case DNS name, optionally *.) or empty") -}}
{{- end -}}
{{- include "destate.validate.match" (list $p "connection.ingress.path" $con.ingress.path "urlPath" "be a URL path of letters, digits and ._~/- starting with /") -}}
{{- range $con.gateway.hostnames -}}
{{- include "destate.validate.match" (list $p "connection.gateway.hostnames[]" . "hostname" "be a host name (lower-case DNS name, optionally *.)") -}}
{{- end -}}
{{- $tls := $con.tls -}}
{{- if $tls.existingSecret -}}
{{- include "destate.validate.match" (list $p "connection.tls.existingSecret" $tls.existingSecret "dnsSubdomain" "be a Secret name (lower-case DNS subdomain)") -}}
{{- include "destate.validate.match" (list $p "connection.tls.mountPath" $tls.mountPath "absPath" "be an absolute path of letters, digits and ._@+- (no spaces, quotes, $, .. or control characters)") -}}
{{- include "destate.validate.intRange" (list $p "connection.tls.healthPort" $tls.healthPort 1 65535) -}}
{{- if eq (int $tls.healthPort) (int $con.port) -}}
{{- include "destate.validate.fail" (list $p "connection.tls.healthPort" (printf "differ from connection.port (%d): it serves plaintext health checks next to the TLS port" (int $con.port)) (toJson $tls.healthPort)) -}}
{{- end -}}
{{- if and (eq $con.mode "ingress") (ne $con.ingress.backendProtocol "GRPCS") -}}
{{- include "destate.validate.fail" (list $p "connection.ingress.backendProtocol" "be GRPCS when connection.tls.existingSecret is set: the pods serve TLS only" (printf "%q" ($con.ingress.backendProtocol | toString))) -}}
{{- end -}}
{{- if eq $con.mode "gateway" -}}
{{- include "destate.validate.fail" (list $p "connection.tls.existingSecret" "be empty with connection.mode=gateway: a GRPCRoute reaches the pods in plaintext unless a BackendTLSPolicy (not rendered by this chart) says otherwise; end TLS at the Gateway" (printf "%q" ($tls.existingSecret | toString))) -}}
{{- end -}}
{{- else if and (eq $con.mode "ingress") (eq $con.ingress.backendProtocol "GRPCS") -}}
{{- include "destate.validate.fail" (list $p "connection.tls.existingSecret" "name the server's TLS Secret (tls.crt, tls.key, ca.crt) when connection.ingress.backendProtocol is GRPCS: without it the pods serve plaintext (h2c)" `""`) -}}
{{- end -}}
{{- with $tls.serverName -}}
{{- include "destate.validate.match" (list $p "connection.tls.serverName" . "dnsSubdomain" "be a DNS name (lower-case letters, digits, - and .) or empty") -}}
{{- end -}}
{{- $e := $con.envoy -}}
{{- $d := "connection.envoy." -}}
{{- range $key, $positive := dict "connectTimeout" true "dnsRefreshRate" true -}}
{{- include "destate.validate.duration" (list $p (print $d $key) (get $e $key) $positive) -}}
{{- end -}}
{{- range $key := list "interval" "timeout" -}}
{{- include "destate.validate.duration" (list $p (print $d "healthCheck." $key) (get $e.healthCheck $key) true) -}}
{{- end -}}
{{- range $key, $val := $e.downstream.timeouts -}}
{{- include "destate.validate.duration" (list $p (print $d "downstream.timeouts." $key) $val false) -}}
{{- end -}}
{{- include "destate.validate.intRange" (list $p (print $d "downstream.maxConnections") $e.downstream.maxConnections 1 1000000) -}}
{{- $h2 := $e.downstream.http2 -}}
{{- include "destate.validate.intRange" (list $p (print $d "downstream.http2.maxConcurrentStreams") $h2.maxConcurrentStreams 1 2147483647) -}}
{{- include "destate.validate.intRange" (list $p (print $d "downstream.http2.initialStreamWindowSize") $h2.initialStreamWindowSize 65535 2147483647) -}}
{{- include "destate.validate.intRange" (list $p (print $d "downstream.http2.initialConnectionWindowSize") $h2.initialConnectionWindowSize 65535 2147483647) -}}
{{- range $key, $val := $e.upstream.circuitBreakers -}}
{{- include "destate.validate.intRange" (list $p (print $d "upstream.circuitBreakers." $key) $val (ternary 0 1 (eq $key "maxRetries")) 4294967295) -}}
{{- end -}}
{{- $od := $e.upstream.outlierDetection -}}
{{- if $od.enabled -}}
{{- include "destate.validate.intRange" (list $p (print $d "upstream.outlierDetection.consecutive5xx") $od.consecutive5xx 1 4294967295) -}}
{{- include "destate.validate.intRange" (list $p (print $d "upstream.outlierDetection.maxEjectionPercent") $od.maxEjectionPercent 0 100) -}}
{{- range $key := list "interval" "baseEjectionTime" -}}
{{- include "destate.validate.duration" (list $p (print $d "upstream.outlierDetection." $key) (get $od $key) true) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.all — every area's validation. Keys: ctx, values, path.
Example (first line of a chart template): {{- include "destate.validate.all" (dict "ctx" $) }}
*/}}
{{- define "destate.validate.all" -}}
{{- $a := pick . "ctx" "values" "path" -}}
{{- include "destate.validate.names" $a -}}
{{- include "destate.validate.image" $a -}}
{{- include "destate.validate.workload" $a -}}
{{- include "destate.validate.persistence" $a -}}
{{- include "destate.validate.config" $a -}}
{{- include "destate.validate.topology" $a -}}
{{- include "destate.validate.session" $a -}}
{{- include "destate.validate.connection" $a -}}
{{- include "destate.validate.network" $a -}}
{{- end -}}

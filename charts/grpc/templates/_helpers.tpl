{{/*
grpc chart helpers: only what is specific to this chart. The gRPC server is the
release's main workload; the Envoy front proxy of connection.mode=envoy is the library
component "envoy" (its own name label, so neither's Services select the other's pods).
*/}}

{{/*
grpc.values — the values tree of the server given to the library (no data volume).
*/}}
{{- define "grpc.values" -}}
{{- $v := deepCopy .Values -}}
{{- $_ := set $v "persistence" (dict "enabled" false) -}}
{{- toYaml $v -}}
{{- end -}}

{{/*
grpc.server — the library arguments for the server (dict: its values tree).
*/}}
{{- define "grpc.server" -}}
{{- toYaml (dict "values" (fromYaml (include "grpc.values" .))) -}}
{{- end -}}

{{/*
grpc.ports — the server's Service ports: appProtocol kubernetes.io/h2c (plaintext HTTP/2),
or https when the server serves TLS (connection.tls.existingSecret).
*/}}
{{- define "grpc.ports" -}}
{{- toYaml (list (dict "name" "grpc" "port" (int .Values.connection.port) "targetPort" "grpc" "appProtocol" (include "destate.connection.appProtocol" (dict "ctx" .)))) -}}
{{- end -}}

{{/*
grpc.serverName — the name the server certificate carries, as clients check it:
connection.tls.serverName, else the Envoy upstream host (the headless Service FQDN).
*/}}
{{- define "grpc.serverName" -}}
{{- .Values.connection.tls.serverName | default (include "grpc.upstreamHost" .) -}}
{{- end -}}

{{/*
grpc.upstreamHost — where Envoy sends calls: connection.envoy.upstream.host, else the
server's headless Service (every serving pod is an endpoint).
*/}}
{{- define "grpc.upstreamHost" -}}
{{- .Values.connection.envoy.upstream.host | default (printf "%s.%s.svc.%s" (include "destate.names.headless" (dict "ctx" .)) .Release.Namespace .Values.topology.clusterDomain) -}}
{{- end -}}

{{/*
grpc.envoyArgs — the library argument for the Envoy front proxy's config (dict).
*/}}
{{- define "grpc.envoyArgs" -}}
{{- toYaml (dict "component" "envoy" "upstreamHost" (include "grpc.upstreamHost" .) "listenAddress" .Values.connection.envoy.listenAddress) -}}
{{- end -}}

{{/*
grpc.envoyValues — the values tree of the Envoy front proxy: its image, proxy.replicas,
the chart's security contexts and placement, no data volume, no config files, the
chart's network policy settings (Envoy is the entry point in connection.mode envoy).
*/}}
{{- define "grpc.envoyValues" -}}
{{- $w := pick .Values.workload "podSecurityContext" "securityContext" "nodeSelector" "tolerations" "priorityClassName" "automountServiceAccountToken" "serviceAccountName" -}}
{{- $_ := set $w "replicas" (int .Values.proxy.replicas) -}}
{{- $_ := set $w "resources" (.Values.connection.envoy.resources | default dict) -}}
{{- $t := pick .Values.topology "clusterDomain" "antiAffinity" "pdb" -}}
{{- toYaml (dict
  "image" .Values.connection.envoy.image
  "workload" $w
  "persistence" (dict "enabled" false)
  "topology" $t
  "connection" .Values.connection
  "network" .Values.network) -}}
{{- end -}}

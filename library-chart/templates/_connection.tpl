{{/*
Connection state (PATTERNS.md §5): long-lived gRPC (HTTP/2) connections pin a client to
one pod; balance per request (L7) instead. Values: `connection`
(see schema/connection.json). Modes: ingress (ingress-nginx GRPC/GRPCS), gateway
(GRPCRoute v1), envoy (Envoy proxy, front or sidecar), client (client-side round_robin
over the headless Service + server max connection age).
*/}}

{{/*
destate.connection.serviceName — internal: the backend Service (argument `service`,
default FULLNAME).
*/}}
{{- define "destate.connection.serviceName" -}}
{{- .service | default (include "destate.names.fullname" (pick . "ctx" "values" "component")) -}}
{{- end -}}

{{/*
destate.connection.grpcIngress — a networking.k8s.io/v1 Ingress for gRPC through
ingress-nginx: annotation nginx.ingress.kubernetes.io/backend-protocol
(connection.ingress.backendProtocol: GRPC = plaintext h2c to the pod, GRPCS = TLS to
the pod), ingressClassName, host, TLS with connection.ingress.tls.secretName (required:
gRPC through ingress-nginx needs TLS/HTTP2 at the edge — rendering fails without it),
backend = `service` port connection.port. Nothing unless connection.mode=ingress.
Keys: ctx, values, component, service (default FULLNAME).
Example: {{ include "destate.connection.grpcIngress" (dict "ctx" $) }}
*/}}
{{- define "destate.connection.grpcIngress" -}}
{{- include "destate.args.check" (list . "destate.connection.grpcIngress" (list "service")) -}}
{{- include "destate.validate.connection" . -}}
{{- $con := (fromJson (include "destate.values.get" .)).connection -}}
{{- if eq $con.mode "ingress" -}}
{{- $i := $con.ingress -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $ann := merge (dict "nginx.ingress.kubernetes.io/backend-protocol" $i.backendProtocol) ($i.annotations | default dict) }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  {{- include "destate.labels.metadata" (merge (dict "annotations" $ann) $sub) | nindent 2 }}
spec:
  {{- with $i.className }}
  ingressClassName: {{ . }}
  {{- end }}
  tls:
    - secretName: {{ $i.tls.secretName }}
      {{- with $i.host }}
      hosts:
        - {{ . | quote }}
      {{- end }}
  rules:
    - {{- with $i.host }}
      host: {{ . | quote }}
      {{- end }}
      http:
        paths:
          - path: {{ $i.path }}
            pathType: Prefix
            backend:
              service:
                name: {{ include "destate.connection.serviceName" . }}
                port:
                  number: {{ int $con.port }}
{{- end -}}
{{- end -}}

{{/*
destate.connection.grpcRoute — a gateway.networking.k8s.io/v1 GRPCRoute to `service`
port connection.port, with connection.gateway.parentRefs (required) and hostnames.
Rendered when connection.mode=gateway and the cluster serves
gateway.networking.k8s.io/v1/GRPCRoute (.Capabilities.APIVersions; pass
`--api-versions gateway.networking.k8s.io/v1/GRPCRoute` to helm template) or
connection.gateway.force=true; otherwise rendering fails and says so.
Keys: ctx, values, component, service (default FULLNAME).
Example: {{ include "destate.connection.grpcRoute" (dict "ctx" $) }}
*/}}
{{- define "destate.connection.grpcRoute" -}}
{{- include "destate.args.check" (list . "destate.connection.grpcRoute" (list "service")) -}}
{{- include "destate.validate.connection" . -}}
{{- $con := (fromJson (include "destate.values.get" .)).connection -}}
{{- if eq $con.mode "gateway" -}}
{{- $g := $con.gateway -}}
{{- if not (or $g.force (.ctx.Capabilities.APIVersions.Has "gateway.networking.k8s.io/v1/GRPCRoute")) -}}
{{- fail (printf "destate: %sconnection.mode=gateway needs the GRPCRoute API (gateway.networking.k8s.io/v1), which this cluster does not serve; install the Gateway API CRDs or set %sconnection.gateway.force=true" (.path | default "") (.path | default "")) -}}
{{- end -}}
{{- $sub := pick . "ctx" "values" "component" }}
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  {{- include "destate.labels.metadata" $sub | nindent 2 }}
spec:
  parentRefs:
    {{- toYaml $g.parentRefs | nindent 4 }}
  {{- with $g.hostnames }}
  hostnames:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    - backendRefs:
        - name: {{ include "destate.connection.serviceName" . }}
          port: {{ int $con.port }}
{{- end -}}
{{- end -}}

{{/*
destate.connection.upstreamHost — internal: the Envoy/client upstream: 
connection.envoy.upstream.host, else FULLNAME-headless.NAMESPACE.svc.CLUSTER_DOMAIN.
*/}}
{{- define "destate.connection.upstreamHost" -}}
{{- $v := fromJson (include "destate.values.get" .) -}}
{{- $v.connection.envoy.upstream.host | default (printf "%s.%s.svc.%s" (include "destate.names.headless" (pick . "ctx" "values" "component")) .ctx.Release.Namespace $v.topology.clusterDomain) -}}
{{- end -}}

{{/*
destate.connection.envoyYaml — the Envoy bootstrap (envoy.yaml text) in Envoy 1.40
field names (no deprecated fields; `envoy --mode validate` accepts it silently):
admin on 127.0.0.1:adminPort (outside the connection limit); listener
listenAddress:listenerPort → HTTP connection manager (codec AUTO: h2c prior knowledge or
HTTP/1.1) → route `prefix: /` with `grpc: {}` match and `timeout: 0s` (streams are not
cut) → cluster "upstream": a DNS cluster (cluster_type envoy.clusters.dns) on the
headless Service, so every pod is an endpoint, lb_policy ROUND_ROBIN|LEAST_REQUEST,
HTTP/2 upstream through typed_extension_protocol_options / explicit_http_config, gRPC
health checks.
Limits (connection.envoy.downstream / .upstream): the overload manager's
global_downstream_max_connections (excess client connections are closed at accept),
HCM timeouts (request headers, request, stream idle, connection idle), HTTP/2 stream and
window limits, cluster circuit breakers, outlier detection.
With connection.tls.existingSecret the upstream speaks TLS (UpstreamTlsContext: ALPN h2,
SNI and a DNS SAN check for connection.tls.serverName, default the upstream host; CA
from the Secret's ca.crt at /etc/envoy-tls, see destate.connection.envoyVolume).
Keys: ctx, values, component, listenAddress (default connection.envoy.listenAddress),
upstreamHost (default connection.envoy.upstream.host or the headless Service FQDN),
upstreamPort (default connection.envoy.upstream.port or connection.port).
*/}}
{{- define "destate.connection.envoyYaml" -}}
{{- include "destate.args.check" (list . "destate.connection.envoyYaml" (list "listenAddress" "upstreamHost" "upstreamPort")) -}}
{{- include "destate.validate.connection" . -}}
{{- $con := (fromJson (include "destate.values.get" .)).connection -}}
{{- $e := $con.envoy -}}
{{- $host := .upstreamHost | default (include "destate.connection.upstreamHost" (pick . "ctx" "values" "component")) -}}
{{- $port := int (.upstreamPort | default $e.upstream.port | default $con.port) -}}
{{- $down := $e.downstream -}}
{{- $h2 := $down.http2 -}}
{{- $cb := $e.upstream.circuitBreakers -}}
{{- $od := $e.upstream.outlierDetection -}}
admin:
  address:
    socket_address:
      address: 127.0.0.1
      port_value: {{ int $e.adminPort }}
  {{- /* localhost only; probes and metrics keep working when clients hit the limit */}}
  ignore_global_conn_limit: true
overload_manager:
  resource_monitors:
    - name: envoy.resource_monitors.global_downstream_max_connections
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig
        max_active_downstream_connections: {{ int64 $down.maxConnections }}
static_resources:
  listeners:
    - name: grpc
      address:
        socket_address:
          address: {{ .listenAddress | default $e.listenAddress }}
          port_value: {{ int $e.listenerPort }}
      filter_chains:
        - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: grpc
                codec_type: AUTO
                request_headers_timeout: {{ $down.timeouts.requestHeaders }}
                request_timeout: {{ $down.timeouts.request }}
                stream_idle_timeout: {{ $down.timeouts.streamIdle }}
                common_http_protocol_options:
                  idle_timeout: {{ $down.timeouts.idle }}
                http2_protocol_options:
                  max_concurrent_streams: {{ int64 $h2.maxConcurrentStreams }}
                  initial_stream_window_size: {{ int64 $h2.initialStreamWindowSize }}
                  initial_connection_window_size: {{ int64 $h2.initialConnectionWindowSize }}
                route_config:
                  name: grpc
                  virtual_hosts:
                    - name: upstream
                      domains: ["*"]
                      routes:
                        - match:
                            prefix: /
                            grpc: {}
                          route:
                            cluster: upstream
                            timeout: 0s
                http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
    - name: upstream
      connect_timeout: {{ $e.connectTimeout }}
      lb_policy: {{ $e.lbPolicy }}
      cluster_type:
        name: envoy.clusters.dns
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.clusters.dns.v3.DnsCluster
          dns_refresh_rate: {{ $e.dnsRefreshRate }}
          dns_lookup_family: V4_PREFERRED
      circuit_breakers:
        thresholds:
          - priority: DEFAULT
            max_connections: {{ int64 $cb.maxConnections }}
            max_pending_requests: {{ int64 $cb.maxPendingRequests }}
            max_requests: {{ int64 $cb.maxRequests }}
            max_retries: {{ int64 $cb.maxRetries }}
      {{- if $od.enabled }}
      outlier_detection:
        consecutive_5xx: {{ int64 $od.consecutive5xx }}
        interval: {{ $od.interval }}
        base_ejection_time: {{ $od.baseEjectionTime }}
        max_ejection_percent: {{ int64 $od.maxEjectionPercent }}
      {{- end }}
      typed_extension_protocol_options:
        envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
          "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
          explicit_http_config:
            http2_protocol_options:
              initial_stream_window_size: {{ int64 $h2.initialStreamWindowSize }}
              initial_connection_window_size: {{ int64 $h2.initialConnectionWindowSize }}
      {{- with $con.tls.existingSecret }}
      {{- $name := $con.tls.serverName | default $host }}
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
          sni: {{ $name | toJson }}
          common_tls_context:
            alpn_protocols: [h2]
            validation_context:
              trusted_ca:
                filename: {{ include "destate.connection.envoyCaDir" dict }}/ca.crt
              match_typed_subject_alt_names:
                - san_type: DNS
                  matcher:
                    exact: {{ $name | toJson }}
      {{- end }}
      load_assignment:
        cluster_name: upstream
        endpoints:
          - lb_endpoints:
              - endpoint:
                  address:
                    socket_address:
                      address: {{ $host }}
                      port_value: {{ $port }}
      {{- if $e.healthCheck.enabled }}
      health_checks:
        - timeout: {{ $e.healthCheck.timeout }}
          interval: {{ $e.healthCheck.interval }}
          {{- /* Envoy's default 60s for a cluster that has had no traffic yet would leave a
          dead backend in rotation for up to a minute after Envoy starts */}}
          no_traffic_interval: {{ $e.healthCheck.interval }}
          unhealthy_threshold: {{ int $e.healthCheck.unhealthyThreshold }}
          healthy_threshold: {{ int $e.healthCheck.healthyThreshold }}
          grpc_health_check:
            service_name: {{ $e.healthCheck.serviceName | quote }}
      {{- end }}
{{- end -}}

{{/*
destate.connection.envoyConfigName — FULLNAME-envoy (the Envoy ConfigMap).
Keys: ctx, values, component.
*/}}
{{- define "destate.connection.envoyConfigName" -}}
{{- include "destate.args.check" (list . "destate.connection.envoyConfigName" list) -}}
{{- printf "%s-envoy" (include "destate.names.fullname" (pick . "ctx" "values" "component") | trunc 57 | trimSuffix "-") -}}
{{- end -}}

{{/*
destate.connection.envoyConfig — the ConfigMap FULLNAME-envoy holding envoy.yaml
(destate.connection.envoyYaml). Rendered whatever connection.mode is: charts include it
when they run Envoy (front proxy, or a client chart's sidecar pointing `upstreamHost` at
the server's headless Service).
Keys: ctx, values, component, listenAddress, upstreamHost, upstreamPort.
Example:
  {{ include "destate.connection.envoyConfig" (dict "ctx" $ "listenAddress" "127.0.0.1"
       "upstreamHost" "grpc-headless.apps.svc.cluster.local" "upstreamPort" 50051) }}
*/}}
{{- define "destate.connection.envoyConfig" -}}
{{- include "destate.args.check" (list . "destate.connection.envoyConfig" (list "listenAddress" "upstreamHost" "upstreamPort")) -}}
{{- $sub := pick . "ctx" "values" "component" }}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "destate.labels.metadata" (merge (dict "name" (include "destate.connection.envoyConfigName" $sub)) $sub) | nindent 2 }}
data:
  envoy.yaml: |
    {{- include "destate.connection.envoyYaml" . | nindent 4 }}
{{- end -}}

{{/*
destate.connection.envoyChecksum — sha256 of the Envoy ConfigMap's data (the
checksum convention of _config.tpl), for a `checksum/envoy` pod annotation.
Keys: as destate.connection.envoyConfig.
*/}}
{{- define "destate.connection.envoyChecksum" -}}
{{- include "destate.config.checksum" (dict "envoy.yaml" (printf "%s\n" (include "destate.connection.envoyYaml" .))) -}}
{{- end -}}

{{/*
destate.connection.envoyCaDir — internal: where Envoy finds the upstream CA (ca.crt).
*/}}
{{- define "destate.connection.envoyCaDir" -}}
/etc/envoy-tls
{{- end -}}

{{/*
destate.connection.envoySidecar — the Envoy container (list item) for a pod:
image connection.envoy.image, `envoy -c /etc/envoy/envoy.yaml`, port "grpc-proxy"
(connection.envoy.listenerPort), TCP readiness on it, restricted securityContext, the
"envoy-config" volume at /etc/envoy and, with connection.tls.existingSecret, the
"envoy-upstream-ca" volume at /etc/envoy-tls. Pair with destate.connection.envoyVolume.
Keys: ctx, values, component.
Example: {{ include "destate.workload.deployment" (dict "ctx" $
           "containers" (fromYamlArray (include "destate.connection.envoySidecar" (dict "ctx" $)))
           "volumes" (fromYamlArray (include "destate.connection.envoyVolume" (dict "ctx" $)))) }}
*/}}
{{- define "destate.connection.envoySidecar" -}}
{{- include "destate.args.check" (list . "destate.connection.envoySidecar" list) -}}
{{- $v := fromJson (include "destate.values.get" .) -}}
{{- $e := $v.connection.envoy -}}
- name: envoy
  image: {{ include "destate.workload.image" (dict "ctx" .ctx "image" $e.image "path" "connection.envoy.") | quote }}
  imagePullPolicy: {{ $e.image.pullPolicy | default "IfNotPresent" }}
  command:
    - envoy
  args:
    - -c
    - /etc/envoy/envoy.yaml
    - --log-level
    - warn
  ports:
    - name: grpc-proxy
      containerPort: {{ int $e.listenerPort }}
      protocol: TCP
  readinessProbe:
    tcpSocket:
      port: grpc-proxy
    periodSeconds: 5
  {{- with $e.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.workload.securityContext | nindent 4 }}
  volumeMounts:
    - name: envoy-config
      mountPath: /etc/envoy
      readOnly: true
    {{- if $v.connection.tls.existingSecret }}
    - name: envoy-upstream-ca
      mountPath: {{ include "destate.connection.envoyCaDir" dict }}
      readOnly: true
    {{- end }}
{{- end -}}

{{/*
destate.connection.envoyVolume — the pod volumes (list) for the sidecar: "envoy-config",
the ConfigMap destate.connection.envoyConfigName (or `configMap`); with
connection.tls.existingSecret also "envoy-upstream-ca", only the Secret's ca.crt (Envoy
never sees the server's key).
Keys: ctx, values, component, configMap.
*/}}
{{- define "destate.connection.envoyVolume" -}}
{{- include "destate.args.check" (list . "destate.connection.envoyVolume" (list "configMap")) -}}
{{- $tls := (fromJson (include "destate.values.get" .)).connection.tls -}}
- name: envoy-config
  configMap:
    name: {{ .configMap | default (include "destate.connection.envoyConfigName" (pick . "ctx" "values" "component")) }}
{{- with $tls.existingSecret }}
- name: envoy-upstream-ca
  secret:
    secretName: {{ . }}
    defaultMode: 0444
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end -}}

{{/*
destate.connection.appProtocol — the Service port's appProtocol for the gRPC server:
"https" with connection.tls.existingSecret (TLS), else "kubernetes.io/h2c" (plaintext
HTTP/2).
Keys: ctx, values, component.
*/}}
{{- define "destate.connection.appProtocol" -}}
{{- include "destate.args.check" (list . "destate.connection.appProtocol" list) -}}
{{- ternary "https" "kubernetes.io/h2c" (not (empty (fromJson (include "destate.values.get" .)).connection.tls.existingSecret)) -}}
{{- end -}}

{{/*
destate.connection.serverTlsVolumes — the server pod's volume (list) "grpc-tls": the
Secret connection.tls.existingSecret, only tls.crt and tls.key, mode 0440 (readable
through the pod's fsGroup). Nothing without connection.tls.existingSecret.
Keys: ctx, values, component.
*/}}
{{- define "destate.connection.serverTlsVolumes" -}}
{{- include "destate.args.check" (list . "destate.connection.serverTlsVolumes" list) -}}
{{- include "destate.validate.connection" . -}}
{{- with (fromJson (include "destate.values.get" .)).connection.tls.existingSecret }}
- name: grpc-tls
  secret:
    secretName: {{ . }}
    defaultMode: 0440
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
{{- end -}}

{{/*
destate.connection.serverTlsMounts — the server container's mount (list) of "grpc-tls"
at connection.tls.mountPath (tls.crt, tls.key there), read-only. Nothing without
connection.tls.existingSecret.
Keys: ctx, values, component.
*/}}
{{- define "destate.connection.serverTlsMounts" -}}
{{- include "destate.args.check" (list . "destate.connection.serverTlsMounts" list) -}}
{{- $tls := (fromJson (include "destate.values.get" .)).connection.tls -}}
{{- if $tls.existingSecret }}
- name: grpc-tls
  mountPath: {{ $tls.mountPath }}
  readOnly: true
{{- end }}
{{- end -}}

{{/*
destate.connection.clientTarget — the client-side target
dns:///FULLNAME-headless.NAMESPACE.svc.CLUSTER_DOMAIN:PORT (or connection.client.target).
Keys: ctx, values, component.
*/}}
{{- define "destate.connection.clientTarget" -}}
{{- include "destate.args.check" (list . "destate.connection.clientTarget" list) -}}
{{- $v := fromJson (include "destate.values.get" .) -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $v.connection.client.target | default (printf "dns:///%s.%s.svc.%s:%d" (include "destate.names.headless" $sub) .ctx.Release.Namespace $v.topology.clusterDomain (int $v.connection.port)) -}}
{{- end -}}

{{/*
destate.connection.serviceConfigJson — the gRPC service config (JSON) for client-side
balancing: loadBalancingConfig [{round_robin: {}}] (clients open a sub-channel to every
address the headless Service resolves to and spread calls over them).
Keys: ctx, values, component.
*/}}
{{- define "destate.connection.serviceConfigJson" -}}
{{- include "destate.args.check" (list . "destate.connection.serviceConfigJson" list) -}}
{{- toJson (dict "loadBalancingConfig" (list (dict "round_robin" dict))) -}}
{{- end -}}

{{/*
destate.connection.clientConfig — ConfigMap FULLNAME-grpc-client with `target`
(destate.connection.clientTarget) and `service-config.json`
(destate.connection.serviceConfigJson), for clients to mount or read by env.
Nothing unless connection.mode=client.
Keys: ctx, values, component.
Example: {{ include "destate.connection.clientConfig" (dict "ctx" $) }}
*/}}
{{- define "destate.connection.clientConfig" -}}
{{- include "destate.args.check" (list . "destate.connection.clientConfig" list) -}}
{{- include "destate.validate.connection" . -}}
{{- $v := fromJson (include "destate.values.get" .) -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- if eq $v.connection.mode "client" }}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "destate.labels.metadata" (merge (dict "name" (printf "%s-grpc-client" (include "destate.names.fullname" $sub | trunc 51 | trimSuffix "-"))) $sub) | nindent 2 }}
data:
  target: {{ include "destate.connection.clientTarget" $sub | quote }}
  service-config.json: {{ include "destate.connection.serviceConfigJson" $sub | quote }}
{{- end }}
{{- end -}}

{{/*
destate.connection.serverEnv — the servers' env for connection.mode=client:
GRPC_MAX_CONNECTION_AGE_MS and GRPC_MAX_CONNECTION_AGE_GRACE_MS (names in
connection.client.env.*; from connection.client.maxConnectionAge[Grace]Seconds), so
servers close connections in time and clients re-resolve and spread to new pods.
destate.workload.container adds it automatically. Nothing for other modes.
Keys: ctx, values, component.
*/}}
{{- define "destate.connection.serverEnv" -}}
{{- include "destate.args.check" (list . "destate.connection.serverEnv" list) -}}
{{- include "destate.validate.connection" . -}}
{{- $cl := (fromJson (include "destate.values.get" .)).connection -}}
{{- if eq $cl.mode "client" -}}
- name: {{ $cl.client.env.maxConnectionAge }}
  value: {{ mul (int $cl.client.maxConnectionAgeSeconds) 1000 | toString | quote }}
- name: {{ $cl.client.env.maxConnectionAgeGrace }}
  value: {{ mul (int $cl.client.maxConnectionAgeGraceSeconds) 1000 | toString | quote }}
{{- end }}
{{- end -}}

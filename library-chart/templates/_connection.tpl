{{/*
Connection state (README.md §5): long-lived gRPC (HTTP/2) connections pin a client to
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
{{- .service | default (include "destate.names.fullnameOf" (list .ctx .component)) -}}
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
{{- template "destate.args.check" (list . "destate.connection.grpcIngress" (list "service")) -}}
{{- template "destate.validate.connection" . -}}
{{- $con := (include "destate.values.key" . | get .ctx.destateValues).connection -}}
{{- if eq $con.mode "ingress" -}}
{{- $i := $con.ingress -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $ann := merge (dict "nginx.ingress.kubernetes.io/backend-protocol" $i.backendProtocol) ($i.annotations | default dict) }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  {{- include "destate.labels.metadataOf" (merge (dict "annotations" $ann) $sub) | nindent 2 }}
spec:
  {{- with $i.className }}
  ingressClassName: {{ . | quote }}
  {{- end }}
  tls:
    - secretName: {{ $i.tls.secretName | quote }}
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
                name: {{ include "destate.connection.serviceName" . | quote }}
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
{{- template "destate.args.check" (list . "destate.connection.grpcRoute" (list "service")) -}}
{{- template "destate.validate.connection" . -}}
{{- $con := (include "destate.values.key" . | get .ctx.destateValues).connection -}}
{{- if eq $con.mode "gateway" -}}
{{- $g := $con.gateway -}}
{{- if not (or $g.force (.ctx.Capabilities.APIVersions.Has "gateway.networking.k8s.io/v1/GRPCRoute")) -}}
{{- fail (printf "destate: %sconnection.mode=gateway needs the GRPCRoute API (gateway.networking.k8s.io/v1), which this cluster does not serve; install the Gateway API CRDs or set %sconnection.gateway.force=true" (.path | default "") (.path | default "")) -}}
{{- end -}}
{{- $sub := pick . "ctx" "values" "component" }}
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata:
  {{- include "destate.labels.metadataOf" $sub | nindent 2 }}
spec:
  parentRefs:
    {{- toYaml $g.parentRefs | nindent 4 }}
  {{- with $g.hostnames }}
  hostnames:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    - backendRefs:
        - name: {{ template "destate.connection.serviceName" . }}
          port: {{ int $con.port }}
{{- end -}}
{{- end -}}

{{/*
destate.connection.upstreamHost — internal: the Envoy/client upstream: 
connection.envoy.upstream.host, else FULLNAME-headless.NAMESPACE.svc.CLUSTER_DOMAIN.
*/}}
{{- define "destate.connection.upstreamHost" -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $v.connection.envoy.upstream.host | default (printf "%s.%s.svc.%s" (include "destate.names.headlessOf" (list .ctx .component)) .ctx.Release.Namespace $v.topology.clusterDomain) -}}
{{- end -}}

{{/*
destate.connection.envoyYaml — the Envoy bootstrap (envoy.yaml text) in Envoy 1.40
field names (no deprecated fields; `envoy --mode validate` accepts it silently):
admin on 127.0.0.1:adminPort (outside the connection limit); listener
listenAddress:listenerPort → HTTP connection manager (codec AUTO: h2c prior knowledge or
HTTP/1.1) → route `prefix: /` with `grpc: {}` match and `timeout: 0s` (streams are not
cut), retrying on another pod a call that never reached a server → cluster "upstream": a DNS cluster (cluster_type envoy.clusters.dns) on the
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
{{- template "destate.args.check" (list . "destate.connection.envoyYaml" (list "listenAddress" "upstreamHost" "upstreamPort")) -}}
{{- template "destate.validate.connection" . -}}
{{- $con := (include "destate.values.key" . | get .ctx.destateValues).connection -}}
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
          address: {{ .listenAddress | default $e.listenAddress | quote }}
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
                            {{- /* a pod that stops (deleted, rolled) refuses connections and
                            streams before DNS and health checks drop it: retry those calls,
                            on another pod; they never reached a server, so any call is safe */}}
                            retry_policy:
                              retry_on: connect-failure,refused-stream,reset-before-request
                              num_retries: 2
                              retry_host_predicate:
                                - name: envoy.retry_host_predicates.previous_hosts
                                  typed_config:
                                    "@type": type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate
                              host_selection_retry_max_attempts: 3
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
                filename: {{ template "destate.connection.envoyCaDir" dict }}/ca.crt
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
{{- template "destate.args.check" (list . "destate.connection.envoyConfigName" list) -}}
{{- printf "%s-envoy" (include "destate.names.fullnameOf" (list .ctx .component) | trunc 57 | trimSuffix "-") -}}
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
{{- template "destate.args.check" (list . "destate.connection.envoyConfig" (list "listenAddress" "upstreamHost" "upstreamPort")) -}}
{{- $sub := pick . "ctx" "values" "component" }}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "destate.labels.metadataOf" (merge (dict "name" (include "destate.connection.envoyConfigName" $sub)) $sub) | nindent 2 }}
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
{{- template "destate.config.checksum" (dict "envoy.yaml" (printf "%s\n" (include "destate.connection.envoyYaml" .))) -}}
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
{{- template "destate.args.check" (list . "destate.connection.envoySidecar" list) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
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
      mountPath: {{ template "destate.connection.envoyCaDir" dict }}
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
{{- template "destate.args.check" (list . "destate.connection.envoyVolume" (list "configMap")) -}}
{{- $tls := (include "destate.values.key" . | get .ctx.destateValues).connection.tls -}}
- name: envoy-config
  configMap:
    name: {{ .configMap | default (include "destate.connection.envoyConfigName" (pick . "ctx" "values" "component")) | quote }}
{{- with $tls.existingSecret }}
- name: envoy-upstream-ca
  secret:
    secretName: {{ . | quote }}
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
{{- template "destate.args.check" (list . "destate.connection.appProtocol" list) -}}
{{- ternary "https" "kubernetes.io/h2c" (not (empty (include "destate.values.key" . | get .ctx.destateValues).connection.tls.existingSecret)) -}}
{{- end -}}

{{/*
destate.connection.serverTlsVolumes — the server pod's volume (list) "grpc-tls": the
Secret connection.tls.existingSecret, only tls.crt and tls.key, mode 0440 (readable
through the pod's fsGroup). Nothing without connection.tls.existingSecret.
Keys: ctx, values, component.
*/}}
{{- define "destate.connection.serverTlsVolumes" -}}
{{- template "destate.args.check" (list . "destate.connection.serverTlsVolumes" list) -}}
{{- template "destate.validate.connection" . -}}
{{- with (include "destate.values.key" . | get .ctx.destateValues).connection.tls.existingSecret }}
- name: grpc-tls
  secret:
    secretName: {{ . | quote }}
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
{{- template "destate.args.check" (list . "destate.connection.serverTlsMounts" list) -}}
{{- $tls := (include "destate.values.key" . | get .ctx.destateValues).connection.tls -}}
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
{{- template "destate.args.check" (list . "destate.connection.clientTarget" list) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $v.connection.client.target | default (printf "dns:///%s.%s.svc.%s:%d" (include "destate.names.headlessOf" (list $sub.ctx $sub.component)) .ctx.Release.Namespace $v.topology.clusterDomain (int $v.connection.port)) -}}
{{- end -}}

{{/*
destate.connection.serviceConfigJson — the gRPC service config (JSON) for client-side
balancing: loadBalancingConfig [{round_robin: {}}] (clients open a sub-channel to every
address the headless Service resolves to and spread calls over them).
Keys: ctx, values, component.
*/}}
{{- define "destate.connection.serviceConfigJson" -}}
{{- template "destate.args.check" (list . "destate.connection.serviceConfigJson" list) -}}
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
{{- template "destate.args.check" (list . "destate.connection.clientConfig" list) -}}
{{- template "destate.validate.connection" . -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- if eq $v.connection.mode "client" }}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "destate.labels.metadataOf" (merge (dict "name" (printf "%s-grpc-client" (include "destate.names.fullnameOf" (list $sub.ctx $sub.component) | trunc 51 | trimSuffix "-"))) $sub) | nindent 2 }}
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
{{- template "destate.args.check" (list . "destate.connection.serverEnv" list) -}}
{{- $cl := (include "destate.values.key" . | get .ctx.destateValues).connection -}}
{{- /* mode none renders nothing here (a workload's validate.all checks the tree) */ -}}
{{- if ne $cl.mode "none" -}}{{- template "destate.validate.connection" . -}}{{- end -}}
{{- if eq $cl.mode "client" -}}
- name: {{ $cl.client.env.maxConnectionAge }}
  value: {{ mul (int $cl.client.maxConnectionAgeSeconds) 1000 | toString | quote }}
- name: {{ $cl.client.env.maxConnectionAgeGrace }}
  value: {{ mul (int $cl.client.maxConnectionAgeGraceSeconds) 1000 | toString | quote }}
{{- end }}
{{- end -}}

{{/*
destate.connection.serverName — the name the gRPC server certificate carries, as clients
check it: connection.tls.serverName, else the upstream host (destate.connection.upstreamHost).
Keys: ctx, values, component.
*/}}
{{- define "destate.connection.serverName" -}}
{{- template "destate.args.check" (list . "destate.connection.serverName" list) -}}
{{- (include "destate.values.key" . | get .ctx.destateValues).connection.tls.serverName | default (include "destate.connection.upstreamHost" .) -}}
{{- end -}}

{{/*
destate.connection.server — the destate.app.render arguments (YAML dict) of a gRPC server:
`container` (name, the grpc port connection.port, GRPC_PORT, gRPC probes; with
connection.tls.existingSecret the TLS files GRPC_TLS_CERT_FILE/GRPC_TLS_KEY_FILE from
destate.connection.serverTlsMounts and grpc.health.v1 in plaintext on
connection.tls.healthPort, where the kubelet's gRPC probes ask), `volumes` (the TLS
Secret), `ports` (the Service port grpc with destate.connection.appProtocol) and
`services` (FULLNAME for one-connection callers and the headless Service that Envoy and
round_robin clients balance over). A stopping pod keeps serving for a while first (a
preStop sleep of 15 s, at most half of workload.terminationGracePeriodSeconds): its
address leaves the Services, DNS and Envoy's view before it stops taking calls.
Keys: ctx, values, component, name (container name, default "grpc").
Example: {{ include "destate.app.render" (merge (dict "ctx" $) (fromYaml (include "destate.connection.server" (dict "ctx" $)))) }}
*/}}
{{- define "destate.connection.server" -}}
{{- template "destate.args.check" (list . "destate.connection.server" (list "name")) -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $con := $v.connection -}}
{{- $tls := $con.tls -}}
{{- $ports := list (dict "name" "grpc" "containerPort" (int $con.port) "protocol" "TCP") -}}
{{- $env := list (dict "name" "GRPC_PORT" "value" ($con.port | toString)) -}}
{{- $probePort := int $con.port -}}
{{- if $tls.existingSecret -}}
{{- $probePort = int $tls.healthPort -}}
{{- $ports = append $ports (dict "name" "grpc-health" "containerPort" $probePort "protocol" "TCP") -}}
{{- $env = concat $env (list
  (dict "name" "GRPC_TLS_CERT_FILE" "value" (printf "%s/tls.crt" (trimSuffix "/" $tls.mountPath)))
  (dict "name" "GRPC_TLS_KEY_FILE" "value" (printf "%s/tls.key" (trimSuffix "/" $tls.mountPath)))
  (dict "name" "GRPC_HEALTH_PORT" "value" ($probePort | toString))) -}}
{{- end -}}
{{- $probe := dict "grpc" (dict "port" $probePort) "periodSeconds" 10 "timeoutSeconds" 3 -}}
{{- $container := dict
    "name" (.name | default "grpc")
    "ports" $ports
    "env" $env
    "volumeMounts" (fromYamlArray (include "destate.connection.serverTlsMounts" $sub))
    "livenessProbe" $probe
    "readinessProbe" (merge (dict "periodSeconds" 5) $probe) -}}
{{- /* covers the CoreDNS TTL (5 s) plus Envoy's dnsRefreshRate (default 5 s) */ -}}
{{- $drain := min 15 (div (int $v.workload.terminationGracePeriodSeconds) 2) -}}
{{- if gt (int $drain) 0 -}}
{{- $_ := set $container "lifecycle" (dict "preStop" (dict "sleep" (dict "seconds" (int $drain)))) -}}
{{- end -}}
{{- toYaml (dict
  "container" $container
  "volumes" (fromYamlArray (include "destate.connection.serverTlsVolumes" $sub))
  "ports" (list (dict "name" "grpc" "port" (int $con.port) "targetPort" "grpc" "appProtocol" (include "destate.connection.appProtocol" $sub)))
  "services" (list "service" "headless")) -}}
{{- end -}}

{{/*
destate.connection.frontProxyValues — internal: the values tree (JSON) of the Envoy front
proxy (component "envoy"): its image (connection.envoy.image), `replicas` (default
workload.replicas), connection.envoy.resources, the chart's security contexts and
placement, no data volume, no config files, the chart's connection and network settings.
*/}}
{{- define "destate.connection.frontProxyValues" -}}
{{- $v := include "destate.values.key" (pick . "ctx" "values") | get .ctx.destateValues -}}
{{- $w := pick $v.workload "podSecurityContext" "securityContext" "nodeSelector" "tolerations" "priorityClassName" "automountServiceAccountToken" "serviceAccountName" -}}
{{- $_ := set $w "replicas" (int (.replicas | default $v.workload.replicas)) -}}
{{- $_ := set $w "resources" ($v.connection.envoy.resources | default dict) -}}
{{- toJson (dict
  "image" $v.connection.envoy.image
  "workload" $w
  "persistence" (dict "enabled" false)
  "topology" (pick $v.topology "clusterDomain" "antiAffinity" "pdb")
  "connection" $v.connection
  "network" $v.network) -}}
{{- end -}}

{{/*
destate.connection.frontProxy — connection.mode=envoy: an Envoy front proxy (component
"envoy", its own name label so neither's Services select the other's pods) that balances
every call over the server's headless Service (DNS cluster, HTTP/2 upstream, gRPC health
checks): its config (destate.connection.envoyConfig), Deployment, Service (port
connection.envoy.listenerPort), PodDisruptionBudget and NetworkPolicy (the listener from
any source or the chart's test pod; with restrictEgress: DNS and the servers). Nothing in
the other modes. destate.app.render renders it when the connection area is on.
Keys: ctx, values, replicas (Envoy pods, default workload.replicas).
*/}}
{{- define "destate.connection.frontProxy" -}}
{{- template "destate.args.check" (list . "destate.connection.frontProxy" (list "replicas")) -}}
{{- $v := include "destate.values.key" (pick . "ctx" "values") | get .ctx.destateValues -}}
{{- $con := $v.connection -}}
{{- if eq $con.mode "envoy" }}
{{- $values := fromJson (include "destate.connection.frontProxyValues" .) }}
{{- $envoy := dict "ctx" .ctx "values" $values "component" "envoy" }}
{{- $cfg := merge (dict "upstreamHost" (include "destate.connection.upstreamHost" (pick . "ctx" "values")) "listenAddress" $con.envoy.listenAddress) $envoy }}
{{- $sidecar := first (fromYamlArray (include "destate.connection.envoySidecar" $envoy)) }}
{{- template "destate.connection.envoyConfig" $cfg }}
---
{{- template "destate.workload.deployment" (merge (dict
  "container" (merge (dict "livenessProbe" (dict "tcpSocket" (dict "port" "grpc-proxy") "periodSeconds" 10)) (omit $sidecar "image" "imagePullPolicy" "resources" "securityContext"))
  "volumes" (fromYamlArray (include "destate.connection.envoyVolume" $envoy))
  "podAnnotations" (dict "checksum/envoy" (include "destate.connection.envoyChecksum" $cfg))) $envoy) }}
---
{{- template "destate.topology.service" (merge (dict "ports" (list (dict "name" "grpc" "port" (int $con.envoy.listenerPort) "targetPort" "grpc-proxy" "appProtocol" "kubernetes.io/h2c"))) $envoy) }}
---
{{- template "destate.topology.pdb" $envoy }}
---
{{- $egress := list }}
{{- if not $con.envoy.upstream.host }}
{{- $egress = append $egress (dict "to" (fromYamlArray (include "destate.network.peer" (dict "ctx" .ctx))) "ports" (list (dict "port" (int ($con.envoy.upstream.port | default $con.port)) "protocol" "TCP"))) }}
{{- end }}
{{- template "destate.network.policy" (merge (dict "ports" (list (int $con.envoy.listenerPort)) "from" (fromJsonArray (include "destate.network.testPeers" (dict "ctx" .ctx))) "egress" $egress) $envoy) }}
{{- end }}
{{- end -}}

{{/*
destate.connection.off — internal: the overlay laid over the chart's values when its Chart.yaml
does not list the connection area (see destate.values.areas in _values.tpl).
*/}}
{{- define "destate.connection.off" -}}
connection:
  mode: none
{{- end -}}

{{/*
destate.connection.defaults — internal: the `connection` defaults of this area (YAML), part of
destate.values.defaults; schema/connection.json documents every key.
*/}}
{{- define "destate.connection.defaults" -}}
connection:
  mode: none
  port: 50051
  ingress:
    className: nginx
    host: ""
    path: /
    backendProtocol: GRPC
    annotations: {}
    tls:
      secretName: ""
  gateway:
    parentRefs: []
    hostnames: []
    force: false
  envoy:
    image:
      repository: envoyproxy/envoy
      tag: v1.40.0
      pullPolicy: IfNotPresent
    listenAddress: 0.0.0.0
    listenerPort: 9000
    adminPort: 9901
    lbPolicy: ROUND_ROBIN
    upstream:
      host: ""
      port: 0
      circuitBreakers:
        maxConnections: 1024
        maxPendingRequests: 1024
        maxRequests: 1024
        maxRetries: 3
      outlierDetection:
        enabled: true
        consecutive5xx: 5
        interval: 10s
        baseEjectionTime: 30s
        maxEjectionPercent: 50
    downstream:
      maxConnections: 10000
      http2:
        maxConcurrentStreams: 100
        initialStreamWindowSize: 65536
        initialConnectionWindowSize: 1048576
      timeouts:
        requestHeaders: 10s
        request: 0s
        streamIdle: 300s
        idle: 3600s
    connectTimeout: 1s
    dnsRefreshRate: 5s
    healthCheck:
      enabled: true
      interval: 5s
      timeout: 1s
      unhealthyThreshold: 2
      healthyThreshold: 1
      serviceName: ""
    resources: {}
  tls:
    existingSecret: ""
    serverName: ""
    mountPath: /etc/grpc-tls
    healthPort: 50052
  client:
    target: ""
    maxConnectionAgeSeconds: 30
    maxConnectionAgeGraceSeconds: 5
    env:
      maxConnectionAge: GRPC_MAX_CONNECTION_AGE_MS
      maxConnectionAgeGrace: GRPC_MAX_CONNECTION_AGE_GRACE_MS
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
{{- if include "destate.validate.once" (list . "connection") -}}
{{- $p := .path | default "" -}}
{{- $con := (include "destate.values.key" . | get .ctx.destateValues).connection -}}
{{- template "destate.validate.enum" (list $p "connection.mode" $con.mode (list "none" "ingress" "gateway" "envoy" "client")) -}}
{{- if or (lt (int $con.port) 1) (gt (int $con.port) 65535) -}}
{{- template "destate.validate.fail" (list $p "connection.port" "be a port number in 1..65535" ($con.port | toString)) -}}
{{- end -}}
{{- if eq $con.mode "ingress" -}}
{{- template "destate.validate.enum" (list $p "connection.ingress.backendProtocol" $con.ingress.backendProtocol (list "GRPC" "GRPCS")) -}}
{{- if not $con.ingress.tls.secretName -}}
{{- template "destate.validate.fail" (list $p "connection.ingress.tls.secretName" "name a TLS Secret: gRPC through ingress-nginx needs TLS (HTTP/2) at the ingress" `""`) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $con.mode "gateway") (not $con.gateway.parentRefs) -}}
{{- template "destate.validate.fail" (list $p "connection.gateway.parentRefs" "list at least one Gateway for the GRPCRoute" "[]") -}}
{{- end -}}
{{- if eq $con.mode "envoy" -}}
{{- template "destate.validate.enum" (list $p "connection.envoy.lbPolicy" $con.envoy.lbPolicy (list "ROUND_ROBIN" "LEAST_REQUEST")) -}}
{{- end -}}
{{- /* a sidecar or front proxy in any mode: Envoy binds both and exits on a clash */ -}}
{{- if eq (int $con.envoy.listenerPort) (int $con.envoy.adminPort) -}}
{{- template "destate.validate.fail" (list $p "connection.envoy.adminPort" (printf "differ from connection.envoy.listenerPort (%d): Envoy binds both and exits when it cannot" (int $con.envoy.listenerPort)) (toJson $con.envoy.adminPort)) -}}
{{- end -}}
{{- if and (eq $con.mode "client") (lt (int $con.client.maxConnectionAgeSeconds) 1) -}}
{{- template "destate.validate.fail" (list $p "connection.client.maxConnectionAgeSeconds" "be >= 1" ($con.client.maxConnectionAgeSeconds | toString)) -}}
{{- end -}}
{{- /* values that reach envoy.yaml, nginx and env: only their own characters */ -}}
{{- template "destate.validate.match" (list $p "connection.envoy.listenAddress" $con.envoy.listenAddress "ipAddress" "be an IP address such as 0.0.0.0, 127.0.0.1 or ::") -}}
{{- with $con.envoy.upstream.host -}}
{{- template "destate.validate.match" (list $p "connection.envoy.upstream.host" . "dnsSubdomain" "be a DNS name (lower-case letters, digits, - and .) or empty") -}}
{{- end -}}
{{- with $con.envoy.healthCheck.serviceName -}}
{{- template "destate.validate.match" (list $p "connection.envoy.healthCheck.serviceName" . "key" "be a gRPC service name of letters, digits and ._- or empty") -}}
{{- end -}}
{{- range $key := list "maxConnectionAge" "maxConnectionAgeGrace" -}}
{{- template "destate.validate.match" (list $p (printf "connection.client.env.%s" $key) (get $con.client.env $key) "envName" "be an environment variable name (letters, digits, _; not starting with a digit)") -}}
{{- end -}}
{{- with $con.ingress.host -}}
{{- template "destate.validate.match" (list $p "connection.ingress.host" . "hostname" "be a host name (lower-case DNS name, optionally *.) or empty") -}}
{{- end -}}
{{- template "destate.validate.match" (list $p "connection.ingress.path" $con.ingress.path "urlPath" "be a URL path of letters, digits and ._~/- starting with /") -}}
{{- range $con.gateway.hostnames -}}
{{- template "destate.validate.match" (list $p "connection.gateway.hostnames[]" . "hostname" "be a host name (lower-case DNS name, optionally *.)") -}}
{{- end -}}
{{- $tls := $con.tls -}}
{{- if $tls.existingSecret -}}
{{- template "destate.validate.match" (list $p "connection.tls.existingSecret" $tls.existingSecret "dnsSubdomain" "be a Secret name (lower-case DNS subdomain)") -}}
{{- template "destate.validate.match" (list $p "connection.tls.mountPath" $tls.mountPath "absPath" "be an absolute path of letters, digits and ._@+- (no spaces, quotes, $, .. or control characters)") -}}
{{- template "destate.validate.intRange" (list $p "connection.tls.healthPort" $tls.healthPort 1 65535) -}}
{{- if eq (int $tls.healthPort) (int $con.port) -}}
{{- template "destate.validate.fail" (list $p "connection.tls.healthPort" (printf "differ from connection.port (%d): it serves plaintext health checks next to the TLS port" (int $con.port)) (toJson $tls.healthPort)) -}}
{{- end -}}
{{- if and (eq $con.mode "ingress") (ne $con.ingress.backendProtocol "GRPCS") -}}
{{- template "destate.validate.fail" (list $p "connection.ingress.backendProtocol" "be GRPCS when connection.tls.existingSecret is set: the pods serve TLS only" (printf "%q" ($con.ingress.backendProtocol | toString))) -}}
{{- end -}}
{{- if eq $con.mode "gateway" -}}
{{- template "destate.validate.fail" (list $p "connection.tls.existingSecret" "be empty with connection.mode=gateway: a GRPCRoute reaches the pods in plaintext unless a BackendTLSPolicy (not rendered by this chart) says otherwise; end TLS at the Gateway" (printf "%q" ($tls.existingSecret | toString))) -}}
{{- end -}}
{{- else if and (eq $con.mode "ingress") (eq $con.ingress.backendProtocol "GRPCS") -}}
{{- template "destate.validate.fail" (list $p "connection.tls.existingSecret" "name the server's TLS Secret (tls.crt, tls.key, ca.crt) when connection.ingress.backendProtocol is GRPCS: without it the pods serve plaintext (h2c)" `""`) -}}
{{- end -}}
{{- with $tls.serverName -}}
{{- template "destate.validate.match" (list $p "connection.tls.serverName" . "dnsSubdomain" "be a DNS name (lower-case letters, digits, - and .) or empty") -}}
{{- end -}}
{{- $e := $con.envoy -}}
{{- $d := "connection.envoy." -}}
{{- range $key, $positive := dict "connectTimeout" true "dnsRefreshRate" true -}}
{{- template "destate.validate.duration" (list $p (print $d $key) (get $e $key) $positive) -}}
{{- end -}}
{{- range $key := list "interval" "timeout" -}}
{{- template "destate.validate.duration" (list $p (print $d "healthCheck." $key) (get $e.healthCheck $key) true) -}}
{{- end -}}
{{- range $key, $val := $e.downstream.timeouts -}}
{{- template "destate.validate.duration" (list $p (print $d "downstream.timeouts." $key) $val false) -}}
{{- end -}}
{{- template "destate.validate.intRange" (list $p (print $d "downstream.maxConnections") $e.downstream.maxConnections 1 1000000) -}}
{{- $h2 := $e.downstream.http2 -}}
{{- template "destate.validate.intRange" (list $p (print $d "downstream.http2.maxConcurrentStreams") $h2.maxConcurrentStreams 1 2147483647) -}}
{{- template "destate.validate.intRange" (list $p (print $d "downstream.http2.initialStreamWindowSize") $h2.initialStreamWindowSize 65535 2147483647) -}}
{{- template "destate.validate.intRange" (list $p (print $d "downstream.http2.initialConnectionWindowSize") $h2.initialConnectionWindowSize 65535 2147483647) -}}
{{- range $key, $val := $e.upstream.circuitBreakers -}}
{{- template "destate.validate.intRange" (list $p (print $d "upstream.circuitBreakers." $key) $val (ternary 0 1 (eq $key "maxRetries")) 4294967295) -}}
{{- end -}}
{{- $od := $e.upstream.outlierDetection -}}
{{- if $od.enabled -}}
{{- template "destate.validate.intRange" (list $p (print $d "upstream.outlierDetection.consecutive5xx") $od.consecutive5xx 1 4294967295) -}}
{{- template "destate.validate.intRange" (list $p (print $d "upstream.outlierDetection.maxEjectionPercent") $od.maxEjectionPercent 0 100) -}}
{{- range $key := list "interval" "baseEjectionTime" -}}
{{- template "destate.validate.duration" (list $p (print $d "upstream.outlierDetection." $key) (get $od $key) true) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate values plumbing: library defaults, the deep merge that lays a chart's values
over them, and the argument guard every template calls first.

Every destate template takes ONE dict argument:
  ctx        (required) the root context `$`
  values     (optional) the values tree to read (same shape as a chart's top level:
             image, workload, persistence, config, topology, session, connection,
             network);
             default `.ctx.Values`. The embedded Redis passes its own tree here.
  component  (optional) a name suffix ("redis", "envoy"): resource names become
             FULLNAME-COMPONENT and labels get app.kubernetes.io/component.
  path       (optional) prefix for error messages when `values` is not the chart
             root, e.g. "session.store.redis." so errors still name the real key.
plus the template's own named keys, listed in its usage header.
*/}}

{{/*
destate.values.defaults — the library's default values tree (YAML string).
Charts only need to set what differs; their values.yaml should still show every key.
*/}}
{{- define "destate.values.defaults" -}}
nameOverride: ""
fullnameOverride: ""
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
session:
  mode: none
  sticky:
    timeoutSeconds: 10800
    cookie:
      name: DESTATE_SESSION
      maxAge: 10800
      path: /
      sameSite: Lax
      mode: persistent
    gatewaySessionPersistence: false
  store:
    embedded: true
    existingSecret: ""
    urlKey: url
    env:
      url: SESSION_STORE_URL
      backend: SESSION_BACKEND
    redis:
      auth:
        existingSecret: ""
        password: ""
      image:
        repository: redis
        tag: "7.4"
        pullPolicy: IfNotPresent
      workload:
        replicas: 1
        resources: {}
        podSecurityContext:
          runAsNonRoot: true
          runAsUser: 999
          runAsGroup: 999
          fsGroup: 999
          fsGroupChangePolicy: OnRootMismatch
          seccompProfile:
            type: RuntimeDefault
      persistence:
        enabled: true
        size: 1Gi
        storageClass: ""
      topology:
        pdb:
          enabled: false
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
network:
  policy:
    enabled: true
    allowExternal: true
    clients: []
    edge:
      - namespaceSelector:
          matchLabels:
            kubernetes.io/metadata.name: ingress-nginx
    extraIngress: []
    restrictEgress: false
    dns:
      - namespaceSelector:
          matchLabels:
            kubernetes.io/metadata.name: kube-system
        podSelector:
          matchLabels:
            k8s-app: kube-dns
    extraEgress: []
{{- end -}}

{{/*
destate.values.merge — deep merge of two maps; keys of the second win, maps merge
recursively, lists and scalars replace (false, 0 and "" DO override, unlike sprig's
mergeOverwrite). Usage: fromJson (include "destate.values.merge" (list $base $over))
*/}}
{{- define "destate.values.merge" -}}
{{- $out := deepCopy (index . 0) -}}
{{- range $k, $v := (index . 1) -}}
{{- $cur := get $out $k -}}
{{- if and (kindIs "map" $v) (kindIs "map" $cur) -}}
{{- $_ := set $out $k (fromJson (include "destate.values.merge" (list $cur $v))) -}}
{{- else if not (kindIs "invalid" $v) -}}
{{- $_ := set $out $k $v -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
destate.values.get — the effective values tree (defaults ⊕ `.values` or `.ctx.Values`),
as JSON; merged once per render and values tree (cached on ctx under destateValues).
Usage: {{ $v := fromJson (include "destate.values.get" .) }}
*/}}
{{- define "destate.values.get" -}}
{{- $src := .ctx.Values -}}
{{- $key := "." -}}
{{- if hasKey . "values" -}}
{{- $src = .values -}}
{{- $key = toJson .values | sha256sum -}}
{{- end -}}
{{- if not (hasKey .ctx "destateValues") -}}
{{- $_ := set .ctx "destateValues" dict -}}
{{- end -}}
{{- $cache := get .ctx "destateValues" -}}
{{- if not (hasKey $cache $key) -}}
{{- $_ := set $cache $key (include "destate.values.merge" (list (fromYaml (include "destate.values.defaults" .)) $src)) -}}
{{- end -}}
{{- get $cache $key -}}
{{- end -}}

{{/*
destate.args.check — fails when a template's dict argument lacks ctx or carries a key
the template does not know (a typo'd key must never be ignored silently).
Usage: {{- include "destate.args.check" (list . "destate.x.y" (list "extraKey" ...)) }}
The common keys ctx, values, component and path are always allowed.
*/}}
{{- define "destate.args.check" -}}
{{- $args := index . 0 -}}
{{- $name := index . 1 -}}
{{- $allowed := concat (list "ctx" "values" "component" "path") (index . 2) -}}
{{- if not (kindIs "map" $args) -}}
{{- fail (printf "destate: %s takes a dict argument with ctx (got %s)" $name (kindOf $args)) -}}
{{- end -}}
{{- if not (hasKey $args "ctx") -}}
{{- fail (printf "destate: %s needs the key ctx (the root context $)" $name) -}}
{{- end -}}
{{- range $k := keys $args | sortAlpha -}}
{{- if not (has $k $allowed) -}}
{{- fail (printf "destate: %s got an unknown argument %q (allowed: %s)" $name $k (join ", " $allowed)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

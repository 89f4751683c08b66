{{/*
Session state (PATTERNS.md §4): keep sessions outside the pod (session.mode=store: a
Redis store, embedded or existing), or pin a client to one pod for a while
(session.mode=sticky: ClientIP affinity, cookie affinity, Gateway sessionPersistence).
Values: `session` (see schema/session.json).
*/}}

{{/*
destate.session.affinity — Service spec lines for sticky sessions: sessionAffinity
ClientIP with sessionAffinityConfig.clientIP.timeoutSeconds = session.sticky.timeoutSeconds
(1..86400, default 10800). Nothing unless session.mode=sticky. destate.topology.service
includes it; a chart's own Service can too.
Keys: ctx, values, component.
Example:
  spec:
    {{- include "destate.session.affinity" (dict "ctx" $) | nindent 2 }}
*/}}
{{- define "destate.session.affinity" -}}
{{- include "destate.args.check" (list . "destate.session.affinity" list) -}}
{{- include "destate.validate.session" . -}}
{{- $s := (fromJson (include "destate.values.get" .)).session -}}
{{- if eq $s.mode "sticky" -}}
sessionAffinity: ClientIP
sessionAffinityConfig:
  clientIP:
    timeoutSeconds: {{ int $s.sticky.timeoutSeconds }}
{{- end -}}
{{- end -}}

{{/*
destate.session.ingressAnnotations — ingress-nginx cookie-affinity annotations (a map,
YAML): affinity cookie, affinity-mode (session.sticky.cookie.mode: persistent|balanced),
session-cookie-name/-max-age/-path/-samesite. Nothing unless session.mode=sticky.
Keys: ctx, values, component.
Example:
  annotations:
    {{- include "destate.session.ingressAnnotations" (dict "ctx" $) | nindent 4 }}
*/}}
{{- define "destate.session.ingressAnnotations" -}}
{{- include "destate.args.check" (list . "destate.session.ingressAnnotations" list) -}}
{{- include "destate.validate.session" . -}}
{{- $s := (fromJson (include "destate.values.get" .)).session -}}
{{- if eq $s.mode "sticky" -}}
{{- $c := $s.sticky.cookie -}}
nginx.ingress.kubernetes.io/affinity: cookie
nginx.ingress.kubernetes.io/affinity-mode: {{ $c.mode | quote }}
nginx.ingress.kubernetes.io/session-cookie-name: {{ $c.name | quote }}
nginx.ingress.kubernetes.io/session-cookie-max-age: {{ int $c.maxAge | toString | quote }}
nginx.ingress.kubernetes.io/session-cookie-path: {{ $c.path | quote }}
nginx.ingress.kubernetes.io/session-cookie-samesite: {{ $c.sameSite | quote }}
{{- end -}}
{{- end -}}

{{/*
destate.session.sessionPersistence — a Gateway API route rule's `sessionPersistence`
(experimental channel: HTTPRoute/GRPCRoute rules[].sessionPersistence): Cookie type,
sessionName = cookie name, absoluteTimeout = timeoutSeconds, Permanent cookie lifetime.
Only when session.mode=sticky AND session.sticky.gatewaySessionPersistence=true (the
field is rejected by standard-channel CRDs).
Keys: ctx, values, component.
Example:
  rules:
    - backendRefs: [...]
      {{- include "destate.session.sessionPersistence" (dict "ctx" $) | nindent 6 }}
*/}}
{{- define "destate.session.sessionPersistence" -}}
{{- include "destate.args.check" (list . "destate.session.sessionPersistence" list) -}}
{{- include "destate.validate.session" . -}}
{{- $s := (fromJson (include "destate.values.get" .)).session -}}
{{- if and (eq $s.mode "sticky") $s.sticky.gatewaySessionPersistence -}}
sessionPersistence:
  sessionName: {{ $s.sticky.cookie.name | quote }}
  type: Cookie
  absoluteTimeout: {{ printf "%ds" (int $s.sticky.timeoutSeconds) }}
  cookieConfig:
    lifetimeType: Permanent
{{- end -}}
{{- end -}}

{{/*
destate.session.storeSecretName — the Secret that holds the store URL: the
session.store.existingSecret, else FULLNAME-session-store (embedded Redis).
Keys: ctx, values, component.
*/}}
{{- define "destate.session.storeSecretName" -}}
{{- include "destate.args.check" (list . "destate.session.storeSecretName" list) -}}
{{- $s := (fromJson (include "destate.values.get" .)).session -}}
{{- $s.store.existingSecret | default (printf "%s-session-store" (include "destate.names.fullname" (dict "ctx" .ctx))) -}}
{{- end -}}

{{/*
destate.session.storeEnv — the app's env for session.mode=store:
SESSION_BACKEND=redis and SESSION_STORE_URL from the store Secret's key
session.store.urlKey (variable names: session.store.env.backend / .url).
Nothing for other modes. destate.workload.container adds it automatically.
Keys: ctx, values, component.
*/}}
{{- define "destate.session.storeEnv" -}}
{{- include "destate.args.check" (list . "destate.session.storeEnv" list) -}}
{{- include "destate.validate.session" . -}}
{{- $s := (fromJson (include "destate.values.get" .)).session -}}
{{- if eq $s.mode "store" -}}
- name: {{ $s.store.env.backend }}
  value: redis
- name: {{ $s.store.env.url }}
  valueFrom:
    secretKeyRef:
      name: {{ include "destate.session.storeSecretName" (pick . "ctx" "values" "component") }}
      key: {{ $s.store.urlKey }}
{{- end }}
{{- end -}}

{{/*
destate.session.redisEnabled — internal: "true" when the embedded Redis is rendered
(session.mode=store, session.store.embedded=true, no session.store.existingSecret).
*/}}
{{- define "destate.session.redisEnabled" -}}
{{- $s := (fromJson (include "destate.values.get" .)).session -}}
{{- if and (eq $s.mode "store") $s.store.embedded (not $s.store.existingSecret) -}}true{{- end -}}
{{- end -}}

{{/*
destate.session.redisValues — internal: the embedded Redis' own values tree (JSON),
built from session.store.redis (image, workload, persistence, topology) plus its
redis.conf; fed to the library's own templates with component "redis".
*/}}
{{- define "destate.session.redisValues" -}}
{{- $s := (fromJson (include "destate.values.get" .)).session -}}
{{- $base := dict
  "persistence" (dict "mountPath" "/data" "local" (dict "enabled" false))
  "config" (dict "mountPath" "/etc/redis" "files" (dict "redis.conf" (include "destate.session.redisConf" .)))
  "topology" (dict "antiAffinity" "none" "ports" (list (dict "name" "redis" "port" 6379)))
-}}
{{- include "destate.values.merge" (list $base $s.store.redis) -}}
{{- end -}}

{{/*
destate.session.redisConf — internal: the embedded Redis' redis.conf (AOF on /data).
*/}}
{{- define "destate.session.redisConf" -}}
port 6379
dir /data
appendonly yes
appendfsync everysec
save 900 1
save 300 10
protected-mode yes
{{- end -}}

{{/*
destate.session.redis — the embedded Redis session store, built from this library's own
templates with component "redis": a Secret FULLNAME-session-store (keys `password`,
generated and stable across upgrades, and `url` =
redis://:PASSWORD@FULLNAME-redis.NAMESPACE.svc.CLUSTER_DOMAIN:6379/0), the redis.conf
ConfigMap (destate.config.configMap), a headless and a ClusterIP Service
(destate.topology.*), a PodDisruptionBudget when enabled, and a StatefulSet
(destate.workload.statefulset: persistence via volumeClaimTemplates, restricted
securityContext). Nothing unless session.mode=store with store.embedded and no
store.existingSecret. Tune it with session.store.redis.{image,workload,persistence,topology}.
Keys: ctx, values.
Example: {{ include "destate.session.redis" (dict "ctx" $) }}
*/}}
{{- define "destate.session.redis" -}}
{{- include "destate.args.check" (list . "destate.session.redis" list) -}}
{{- include "destate.validate.session" . -}}
{{- if include "destate.session.redisEnabled" . -}}
{{- $v := fromJson (include "destate.values.get" .) -}}
{{- $rv := fromJson (include "destate.session.redisValues" .) -}}
{{- $r := dict "ctx" .ctx "values" $rv "component" "redis" "path" "session.store.redis." -}}
{{- $secret := include "destate.session.storeSecretName" (pick . "ctx" "values") -}}
{{- $password := include "destate.config.password" (dict "ctx" .ctx "values" $v "secretName" $secret "key" "password") -}}
{{- $host := printf "%s.%s.svc.%s" (include "destate.names.fullname" (pick $r "ctx" "component")) .ctx.Release.Namespace $v.topology.clusterDomain -}}
{{- $url := printf "redis://:%s@%s:6379/0" $password $host }}
apiVersion: v1
kind: Secret
metadata:
  {{- include "destate.labels.metadata" (dict "ctx" .ctx "component" "redis" "name" $secret "annotations" (dict "helm.sh/resource-policy" "keep")) | nindent 2 }}
type: Opaque
data:
  password: {{ $password | b64enc | quote }}
  url: {{ $url | b64enc | quote }}
---
{{- include "destate.config.configMap" $r }}
---
{{- include "destate.topology.headlessService" $r }}
---
{{- include "destate.topology.service" $r }}
{{- with include "destate.topology.pdb" $r }}
---
{{- . }}
{{- end }}
---
{{- include "destate.workload.statefulset" (merge (dict "container" (dict
  "name" "redis"
  "command" (list "redis-server" "/etc/redis/redis.conf" "--requirepass" "$(REDIS_PASSWORD)")
  "ports" (list (dict "name" "redis" "containerPort" 6379 "protocol" "TCP"))
  "env" (list (dict "name" "REDIS_PASSWORD" "valueFrom" (dict "secretKeyRef" (dict "name" $secret "key" "password"))))
  "livenessProbe" (dict "tcpSocket" (dict "port" "redis") "initialDelaySeconds" 10 "periodSeconds" 10)
  "readinessProbe" (dict "exec" (dict "command" (list "sh" "-c" "redis-cli -a \"$REDIS_PASSWORD\" --no-auth-warning ping | grep -q PONG")) "periodSeconds" 5)
  )) $r) }}
{{- end -}}
{{- end -}}

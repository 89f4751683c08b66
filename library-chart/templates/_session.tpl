{{/*
Session state (README.md §4): keep sessions outside the pod (session.mode=store: a
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
{{- template "destate.args.check" (list . "destate.session.affinity" list) -}}
{{- $s := (include "destate.values.key" . | get .ctx.destateValues).session -}}
{{- /* mode none renders nothing here (a workload's validate.all checks the tree) */ -}}
{{- if ne $s.mode "none" -}}{{- template "destate.validate.session" . -}}{{- end -}}
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
{{- template "destate.args.check" (list . "destate.session.ingressAnnotations" list) -}}
{{- $s := (include "destate.values.key" . | get .ctx.destateValues).session -}}
{{- /* mode none renders nothing here (a workload's validate.all checks the tree) */ -}}
{{- if ne $s.mode "none" -}}{{- template "destate.validate.session" . -}}{{- end -}}
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
{{- template "destate.args.check" (list . "destate.session.sessionPersistence" list) -}}
{{- $s := (include "destate.values.key" . | get .ctx.destateValues).session -}}
{{- /* mode none renders nothing here (a workload's validate.all checks the tree) */ -}}
{{- if ne $s.mode "none" -}}{{- template "destate.validate.session" . -}}{{- end -}}
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
session.store.existingSecret (external store), else the embedded Redis' Secret:
session.store.redis.auth.existingSecret, else FULLNAME-session-store.
Keys: ctx, values, component.
*/}}
{{- define "destate.session.storeSecretName" -}}
{{- template "destate.args.check" (list . "destate.session.storeSecretName" list) -}}
{{- $s := (include "destate.values.key" . | get .ctx.destateValues).session -}}
{{- $s.store.existingSecret | default $s.store.redis.auth.existingSecret | default (printf "%s-session-store" (include "destate.names.fullnameOf" (list .ctx ""))) -}}
{{- end -}}

{{/*
destate.session.storeEnv — the app's env for session.mode=store:
SESSION_BACKEND=redis and SESSION_STORE_URL from the store Secret's key
session.store.urlKey (variable names: session.store.env.backend / .url).
Nothing for other modes. destate.workload.container adds it automatically.
Keys: ctx, values, component.
*/}}
{{- define "destate.session.storeEnv" -}}
{{- template "destate.args.check" (list . "destate.session.storeEnv" list) -}}
{{- $s := (include "destate.values.key" . | get .ctx.destateValues).session -}}
{{- /* mode none renders nothing here (a workload's validate.all checks the tree) */ -}}
{{- if ne $s.mode "none" -}}{{- template "destate.validate.session" . -}}{{- end -}}
{{- if eq $s.mode "store" -}}
- name: {{ $s.store.env.backend }}
  value: redis
- name: {{ $s.store.env.url }}
  valueFrom:
    secretKeyRef:
      name: {{ template "destate.session.storeSecretName" (pick . "ctx" "values" "component") }}
      key: {{ $s.store.urlKey }}
{{- end }}
{{- end -}}

{{/*
destate.session.redisEnabled — internal: "true" when the embedded Redis is rendered
(session.mode=store, session.store.embedded=true, no session.store.existingSecret).
*/}}
{{- define "destate.session.redisEnabled" -}}
{{- $s := (include "destate.values.key" . | get .ctx.destateValues).session -}}
{{- if and (eq $s.mode "store") $s.store.embedded (not $s.store.existingSecret) -}}true{{- end -}}
{{- end -}}

{{/*
destate.session.storeData — internal: the data of the Secret the chart makes for the
embedded Redis (JSON: password and url, base64), "" when it makes none (no embedded
Redis, or session.store.redis.auth.existingSecret). The Secret, Redis' checksum/secret and
the app's checksum/session-store all read it: a new password rolls Redis and the app.
Keys: ctx, values, component.
*/}}
{{- define "destate.session.storeData" -}}
{{- if include "destate.session.redisEnabled" . -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $auth := $v.session.store.redis.auth -}}
{{- if not $auth.existingSecret -}}
{{- $password := $auth.password -}}
{{- if not $password -}}
{{- $secret := include "destate.session.storeSecretName" (pick . "ctx" "values") -}}
{{- $password = include "destate.config.password" (dict "ctx" .ctx "values" $v "secretName" $secret "key" "password" "valuePath" "session.store.redis.auth.password" "existingSecretPath" "session.store.redis.auth.existingSecret") -}}
{{- end -}}
{{- $host := printf "%s.%s.svc.%s" (include "destate.names.fullnameOf" (list .ctx "redis")) .ctx.Release.Namespace $v.topology.clusterDomain -}}
{{- toJson (dict "password" ($password | b64enc) "url" (printf "redis://:%s@%s:6379/0" $password $host | b64enc)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.session.redisValues — internal: the embedded Redis' own values tree (JSON),
built from session.store.redis (image, workload, persistence, topology) plus its
redis.conf; fed to the library's own templates with component "redis".
*/}}
{{- define "destate.session.redisValues" -}}
{{- $s := (include "destate.values.key" . | get .ctx.destateValues).session -}}
{{- $base := dict
  "persistence" (dict "mountPath" "/data" "local" (dict "enabled" false))
  "config" (dict "mountPath" "/etc/redis" "files" (dict "redis.conf" (include "destate.session.redisConf" .)))
  "topology" (dict "antiAffinity" "none" "ports" (list (dict "name" "redis" "port" 6379)))
-}}
{{- template "destate.values.merge" (list $base (omit $s.store.redis "auth")) -}}
{{- end -}}

{{/*
destate.session.redisConf — internal: the embedded Redis' redis.conf (AOF on /data). The
password is not here (a ConfigMap) nor on a command line: the init container redis-auth
writes `requirepass` into /destate/redis-auth/auth.conf (a memory emptyDir), included last.
*/}}
{{- define "destate.session.redisConf" -}}
port 6379
dir /data
appendonly yes
appendfsync everysec
save 900 1
save 300 10
protected-mode yes
include /destate/redis-auth/auth.conf
{{- end -}}

{{/*
destate.session.redisAuthScript — internal: the redis-auth init container's script: reads
the password from the store Secret's key `password` (mounted alone), refuses characters a
quoted redis.conf string or the store URL cannot hold, and writes auth.conf (mode 0600).
*/}}
{{- define "destate.session.redisAuthScript" -}}
set -eu
umask 077
pw=$(cat /destate/redis-password/password)
case $pw in
  '' | *[!A-Za-z0-9._~+=@%:,!-]*)
    echo "redis-auth: key password of the session store Secret must be non-empty and hold only letters, digits and ._~+=@%:,!- (no quotes, spaces or backslashes)" >&2
    exit 1
    ;;
esac
printf 'requirepass "%s"\n' "$pw" >/destate/redis-auth/auth.conf
{{- end -}}

{{/*
destate.session.redis — the embedded Redis session store, built from this library's own
templates with component "redis": a Secret FULLNAME-session-store (keys `password` =
session.store.redis.auth.password, else generated and stable across upgrades, and `url` =
redis://:PASSWORD@FULLNAME-redis.NAMESPACE.svc.CLUSTER_DOMAIN:6379/0; not rendered when
session.store.redis.auth.existingSecret names a Secret with those two keys), the redis.conf
ConfigMap (destate.config.configMap), a headless and a ClusterIP Service
(destate.topology.*), a PodDisruptionBudget when enabled, a StatefulSet
(destate.workload.statefulset: persistence via volumeClaimTemplates, restricted
securityContext, one pod at most; the password reaches redis-server through a config file
written by the init container redis-auth, and redis-cli in the probe through REDISCLI_AUTH:
never a command line) and, when network.policy.enabled, a NetworkPolicy admitting only the
release's main pods (the app) on 6379 (destate.network.policy). Nothing unless
session.mode=store with store.embedded and no store.existingSecret. Tune it with
session.store.redis.{image,workload,persistence,topology}.
Keys: ctx, values.
Example: {{ include "destate.session.redis" (dict "ctx" $) }}
*/}}
{{- define "destate.session.redis" -}}
{{- template "destate.args.check" (list . "destate.session.redis" list) -}}
{{- template "destate.validate.session" . -}}
{{- if include "destate.session.redisEnabled" . -}}
{{- $v := include "destate.values.key" . | get .ctx.destateValues -}}
{{- $rv := fromJson (include "destate.session.redisValues" .) -}}
{{- $r := dict "ctx" .ctx "values" $rv "component" "redis" "path" "session.store.redis." -}}
{{- $rw := (include "destate.values.key" $r | get $r.ctx.destateValues) -}}
{{- $secret := include "destate.session.storeSecretName" (pick . "ctx" "values") -}}
{{- $podAnnotations := dict -}}
{{- $store := include "destate.session.storeData" (pick . "ctx" "values") -}}
{{- if $store -}}
{{- $data := fromJson $store -}}
{{- /* a new password rolls Redis, whose init container writes it into auth.conf (and the
app, whose pods read the URL at start: destate.workload.podTemplate) */ -}}
{{- $_ := set $podAnnotations "checksum/secret" (include "destate.config.checksum" $data) }}
apiVersion: v1
kind: Secret
metadata:
  {{- include "destate.labels.metadataOf" (dict "ctx" .ctx "component" "redis" "name" $secret "annotations" (dict "helm.sh/resource-policy" "keep")) | nindent 2 }}
type: Opaque
data:
  password: {{ $data.password | quote }}
  url: {{ $data.url | quote }}
---
{{- end }}
{{- template "destate.config.configMap" $r }}
---
{{- template "destate.topology.headlessService" $r }}
---
{{- template "destate.topology.service" $r }}
{{- with include "destate.topology.pdb" $r }}
---
{{- . }}
{{- end }}
---
{{- $authInit := dict
  "name" "redis-auth"
  "image" (include "destate.workload.image" (merge (dict "image" $rw.image) (pick $r "ctx" "values" "component" "path")))
  "imagePullPolicy" ($rw.image.pullPolicy | default "IfNotPresent")
  "command" (list "sh" "-c" (include "destate.session.redisAuthScript" .))
  "securityContext" $rw.workload.securityContext
  "volumeMounts" (list
    (dict "name" "redis-password" "mountPath" "/destate/redis-password" "readOnly" true)
    (dict "name" "redis-auth" "mountPath" "/destate/redis-auth")) }}
{{- template "destate.workload.statefulset" (merge (dict "container" (dict
  "name" "redis"
  "command" (list "redis-server" "/etc/redis/redis.conf")
  "ports" (list (dict "name" "redis" "containerPort" 6379 "protocol" "TCP"))
  "env" (list (dict "name" "REDISCLI_AUTH" "valueFrom" (dict "secretKeyRef" (dict "name" $secret "key" "password"))))
  "volumeMounts" (list (dict "name" "redis-auth" "mountPath" "/destate/redis-auth" "readOnly" true))
  "livenessProbe" (dict "tcpSocket" (dict "port" "redis") "initialDelaySeconds" 10 "periodSeconds" 10)
  "readinessProbe" (dict "exec" (dict "command" (list "sh" "-c" "redis-cli ping | grep -q PONG")) "periodSeconds" 5)
  )
  "initContainers" (list $authInit)
  "volumes" (list
    (dict "name" "redis-password" "secret" (dict "secretName" $secret "defaultMode" 288 "items" (list (dict "key" "password" "path" "password"))))
    (dict "name" "redis-auth" "emptyDir" (dict "medium" "Memory" "sizeLimit" "1Mi")))
  "podAnnotations" $podAnnotations) $r) }}
{{- /* Redis only from the app's pods, whatever network.policy.allowExternal and clients say */}}
{{- $netValues := merge (dict "network" (dict "policy" (pick $v.network.policy "enabled" "restrictEgress" "dns"))) $rv }}
{{- with include "destate.network.policy" (dict "ctx" .ctx "values" $netValues "component" "redis" "ports" (list 6379) "external" false "clients" list "from" (fromYamlArray (include "destate.network.peer" (dict "ctx" .ctx)))) }}
---
{{- . }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
destate.session.storeEgress — the egress rule (a list with one item) that lets the app's
pods reach the embedded Redis (its pods, port 6379), for destate.network.policy's
`egress` key. Nothing unless the embedded Redis is rendered (an external store's address
is not known here: allow it with network.policy.extraEgress).
Keys: ctx, values, component.
Example:
  {{ include "destate.network.policy" (dict "ctx" $ "ports" (list 8080)
       "egress" (fromYamlArray (include "destate.session.storeEgress" (dict "ctx" $)))) }}
*/}}
{{- define "destate.session.storeEgress" -}}
{{- template "destate.args.check" (list . "destate.session.storeEgress" list) -}}
{{- if include "destate.session.redisEnabled" . -}}
- to:
    {{- include "destate.network.peer" (dict "ctx" .ctx "component" "redis") | nindent 4 }}
  ports:
    - port: 6379
      protocol: TCP
{{- end -}}
{{- end -}}

{{/*
destate.session.expose — how visitors reach the app's Service from outside, carrying the
sticky-session settings: expose.mode ingress -> an Ingress (ingress-nginx cookie affinity
of destate.session.ingressAnnotations under expose.ingress.annotations); gateway -> an
HTTPRoute (the sessionPersistence of destate.session.sessionPersistence); none ->
nothing. The backend is FULLNAME on the first of `ports`. Fails when gateway has no
parentRefs, when the cluster serves no HTTPRoute API (unless expose.gateway.force), and
when session.sticky.gatewaySessionPersistence is set without mode gateway.
Keys: ctx, values, component, expose (dict: mode, ingress {className, host, path,
annotations, tls.secretName}, gateway {parentRefs, hostnames, force}), ports (Service ports).
Example: {{ include "destate.session.expose" (dict "ctx" $ "expose" .Values.expose "ports" $ports) }}
*/}}
{{- define "destate.session.expose" -}}
{{- template "destate.args.check" (list . "destate.session.expose" (list "expose" "ports")) -}}
{{- $e := required "destate: destate.session.expose needs expose" .expose -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $s := (include "destate.values.key" . | get .ctx.destateValues).session -}}
{{- if and (eq $e.mode "gateway") (not $e.gateway.parentRefs) -}}
{{- fail "destate: expose.gateway.parentRefs must list at least one Gateway for the HTTPRoute (got [])" -}}
{{- end -}}
{{- if and (eq $e.mode "gateway") (not (or $e.gateway.force (.ctx.Capabilities.APIVersions.Has "gateway.networking.k8s.io/v1/HTTPRoute"))) -}}
{{- fail "destate: expose.mode=gateway needs the HTTPRoute API (gateway.networking.k8s.io/v1), which this cluster does not serve; install the Gateway API CRDs or set expose.gateway.force=true" -}}
{{- end -}}
{{- if and $s.sticky.gatewaySessionPersistence (eq $s.mode "sticky") (ne $e.mode "gateway") -}}
{{- fail (printf "destate: session.sticky.gatewaySessionPersistence needs expose.mode gateway (got %q)" $e.mode) -}}
{{- end -}}
{{- $port := first (required "destate: destate.session.expose needs ports (the app's Service ports)" .ports) -}}
{{- $full := include "destate.names.fullnameOf" (list $sub.ctx $sub.component) -}}
{{- if eq $e.mode "ingress" }}
{{- $i := $e.ingress }}
{{- $ann := merge (deepCopy ($i.annotations | default dict)) (fromYaml (include "destate.session.ingressAnnotations" $sub) | default dict) }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  {{- include "destate.labels.metadataOf" (merge (dict "annotations" $ann) $sub) | nindent 2 }}
spec:
  {{- with $i.className }}
  ingressClassName: {{ . | quote }}
  {{- end }}
  {{- with $i.tls.secretName }}
  tls:
    - secretName: {{ . | quote }}
      {{- with $i.host }}
      hosts:
        - {{ . | quote }}
      {{- end }}
  {{- end }}
  rules:
    - {{- with $i.host }}
      host: {{ . | quote }}
      {{- end }}
      http:
        paths:
          - path: {{ $i.path | quote }}
            pathType: Prefix
            backend:
              service:
                name: {{ $full | quote }}
                port:
                  name: {{ $port.name }}
{{- else if eq $e.mode "gateway" }}
{{- $g := $e.gateway }}
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
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
        - name: {{ $full | quote }}
          port: {{ int $port.port }}
      {{- with include "destate.session.sessionPersistence" $sub }}
      {{- . | nindent 6 }}
      {{- end }}
{{- end }}
{{- end -}}

{{/*
destate.session.off — internal: the overlay laid over the chart's values when its Chart.yaml
does not list the session area (see destate.values.areas in _values.tpl).
*/}}
{{- define "destate.session.off" -}}
session:
  mode: none
{{- end -}}

{{/*
destate.session.defaults — internal: the `session` defaults of this area (YAML), part of
destate.values.defaults; schema/session.json documents every key.
*/}}
{{- define "destate.session.defaults" -}}
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
{{- end -}}

{{/*
destate.validate.session — mode none|store|sticky; sticky.timeoutSeconds 1..86400;
cookie mode persistent|balanced, cookie name and path of safe characters; env names;
a store that is not embedded needs existingSecret; the embedded Redis has at most one pod,
and its auth.password (URL-safe) and auth.existingSecret exclude each other.
*/}}
{{- define "destate.validate.session" -}}
{{- if include "destate.validate.once" (list . "session") -}}
{{- $p := .path | default "" -}}
{{- $s := (include "destate.values.key" . | get .ctx.destateValues).session -}}
{{- template "destate.validate.enum" (list $p "session.mode" $s.mode (list "none" "store" "sticky")) -}}
{{- if eq $s.mode "sticky" -}}
{{- $t := $s.sticky.timeoutSeconds -}}
{{- if or (not (regexMatch "^[0-9]+$" ($t | toString))) (lt (int $t) 1) (gt (int $t) 86400) -}}
{{- template "destate.validate.fail" (list $p "session.sticky.timeoutSeconds" "be an integer in 1..86400" ($t | toString)) -}}
{{- end -}}
{{- template "destate.validate.enum" (list $p "session.sticky.cookie.mode" $s.sticky.cookie.mode (list "persistent" "balanced")) -}}
{{- end -}}
{{- if and (eq $s.mode "store") (not $s.store.embedded) (not $s.store.existingSecret) -}}
{{- template "destate.validate.fail" (list $p "session.store.existingSecret" "name the Secret holding the store URL when session.store.embedded is false" `""`) -}}
{{- end -}}
{{- template "destate.validate.match" (list $p "session.sticky.cookie.name" $s.sticky.cookie.name "cookieName" "be a cookie name of letters, digits and _.-") -}}
{{- template "destate.validate.match" (list $p "session.sticky.cookie.path" $s.sticky.cookie.path "urlPath" "be a URL path of letters, digits and ._~/- starting with /") -}}
{{- range $key := list "url" "backend" -}}
{{- template "destate.validate.match" (list $p (printf "session.store.env.%s" $key) (get $s.store.env $key) "envName" "be an environment variable name (letters, digits, _; not starting with a digit)") -}}
{{- end -}}
{{- template "destate.validate.match" (list $p "session.store.urlKey" $s.store.urlKey "key" "be a Secret key of letters, digits and ._-") -}}
{{- with $s.store.existingSecret -}}
{{- template "destate.validate.match" (list $p "session.store.existingSecret" . "dnsSubdomain" "be a Secret name (a DNS name) or empty") -}}
{{- end -}}
{{- $r := $s.store.redis -}}
{{- if and (eq $s.mode "store") $s.store.embedded (not $s.store.existingSecret) -}}
{{- if gt (int $r.workload.replicas) 1 -}}
{{- template "destate.validate.fail" (list $p "session.store.redis.workload.replicas" "be 0 or 1: the embedded Redis is one instance without replication, and more pods would be separate stores behind one Service, each visitor's session on a random one (for more, run a replicated Redis and name it in session.store.existingSecret)" (toJson $r.workload.replicas)) -}}
{{- end -}}
{{- end -}}
{{- with $r.auth.existingSecret -}}
{{- template "destate.validate.match" (list $p "session.store.redis.auth.existingSecret" . "dnsSubdomain" "be a Secret name (a DNS name) or empty") -}}
{{- end -}}
{{- with $r.auth.password -}}
{{- template "destate.validate.match" (list $p "session.store.redis.auth.password" . "urlSafePassword" "be 8..128 letters, digits and ._~- (it goes into the store URL and redis.conf unescaped) or empty") -}}
{{- if $r.auth.existingSecret -}}
{{- template "destate.validate.fail" (list $p "session.store.redis.auth.password" "be empty when session.store.redis.auth.existingSecret is set (use one or the other)" `"…"`) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

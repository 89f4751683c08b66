{{/*
redis chart helpers: only what is Redis. Everything generic (the StatefulSet, claims,
config, Services, PodDisruptionBudget, NetworkPolicy) comes from destate.app.render.
*/}}

{{/*
redis.authSecretName — the Secret with key `password`: auth.existingSecret, else FULLNAME-auth.
*/}}
{{- define "redis.authSecretName" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "destate.names.fullname" (dict "ctx" .))) -}}
{{- end -}}

{{/*
redis.validate — the chart's own checks (messages name the value path); the hook
validate of destate.app.render.
*/}}
{{- define "redis.validate" -}}
{{- with .Values.auth.password -}}
{{- if not (regexMatch "^[A-Za-z0-9._~+=@%:,!-]{8,128}$" .) -}}
{{- fail "destate: auth.password must be 8..128 letters, digits or ._~+=@%:,!- (got a value that is not)" -}}
{{- end -}}
{{- end -}}
{{- if hasKey (.Values.config.files | default dict) "redis.conf" -}}
{{- fail "destate: config.files must not hold redis.conf: the chart writes it; put your settings in another file such as tuning.conf (got redis.conf)" -}}
{{- end -}}
{{- end -}}

{{/*
redis.scriptsName — the scripts ConfigMap: FULLNAME-scripts.
*/}}
{{- define "redis.scriptsName" -}}
{{- printf "%s-scripts" (include "destate.names.fullname" (dict "ctx" .) | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{/*
redis.scripts — the ConfigMap redis.scriptsName with files/init-config.sh (hook resources).
*/}}
{{- define "redis.scripts" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  {{- include "destate.labels.metadata" (dict "ctx" . "name" (include "redis.scriptsName" .)) | nindent 2 }}
data:
  init-config.sh: {{ .Files.Get "files/init-config.sh" | quote }}
{{- end -}}

{{/*
redis.password — the password redis.auth keeps: auth.password, else generated once and
read back from the live Secret; "" with auth.existingSecret. The pods' checksum/secret is
of it too: a new password rolls every pod, so that no pod keeps the old one.
*/}}
{{- define "redis.password" -}}
{{- if not .Values.auth.existingSecret -}}
{{- if .Values.auth.password -}}
{{- .Values.auth.password -}}
{{- else -}}
{{- include "destate.config.password" (dict "ctx" . "secretName" (include "redis.authSecretName" .) "key" "password" "valuePath" "auth.password" "existingSecretPath" "auth.existingSecret") -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
redis.auth — the Secret FULLNAME-auth (key password: auth.password, else generated once
and read back from the live Secret on every upgrade; kept on uninstall). Nothing with
auth.existingSecret. An offline render that would generate one fails instead.
*/}}
{{- define "redis.auth" -}}
{{- if not .Values.auth.existingSecret -}}
{{- $name := include "redis.authSecretName" . -}}
{{- $pw := include "redis.password" . -}}
apiVersion: v1
kind: Secret
metadata:
  {{- include "destate.labels.metadata" (dict "ctx" . "name" $name "annotations" (dict "helm.sh/resource-policy" "keep")) | nindent 2 }}
type: Opaque
data:
  password: {{ $pw | b64enc | quote }}
{{- end -}}
{{- end -}}

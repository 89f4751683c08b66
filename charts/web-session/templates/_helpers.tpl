{{/*
web-session chart helpers: only what is specific to this web app. Everything generic
comes from the destate library.
*/}}

{{/*
web-session.values — the values tree given to the library: the chart's values, with no
data volume (the app keeps no files; its state is its sessions, see session.mode).
*/}}
{{- define "web-session.values" -}}
{{- $v := deepCopy .Values -}}
{{- $_ := set $v "persistence" (dict "enabled" false) -}}
{{- toYaml $v -}}
{{- end -}}

{{/*
web-session.validate — checks of the chart's own keys (messages name the value path).
*/}}
{{- define "web-session.validate" -}}
{{- $e := .Values.expose -}}
{{- if and (eq $e.mode "gateway") (not $e.gateway.parentRefs) -}}
{{- fail "destate: expose.gateway.parentRefs must list at least one Gateway for the HTTPRoute (got [])" -}}
{{- end -}}
{{- if and (eq $e.mode "gateway") (not (or $e.gateway.force (.Capabilities.APIVersions.Has "gateway.networking.k8s.io/v1/HTTPRoute"))) -}}
{{- fail "destate: expose.mode=gateway needs the HTTPRoute API (gateway.networking.k8s.io/v1), which this cluster does not serve; install the Gateway API CRDs or set expose.gateway.force=true" -}}
{{- end -}}
{{- if and .Values.session.sticky.gatewaySessionPersistence (eq .Values.session.mode "sticky") (ne $e.mode "gateway") -}}
{{- fail (printf "destate: session.sticky.gatewaySessionPersistence needs expose.mode gateway (got %q)" $e.mode) -}}
{{- end -}}
{{- end -}}

{{/*
The loader: one entry point that renders a whole standard workload from values.
A consumer chart lists its areas once (Chart.yaml annotation destate/areas, see
destate.values.areas in _values.tpl) and renders everything with one include:

  {{- include "destate.app.render" (dict "ctx" $ "container" (dict "name" "app" "ports" ...)) }}

destate.app.render — every enabled area's resources, in this order:
  hooks.validate          the chart's own checks (template name), then destate.validate.all
  config       (area on)  the ConfigMap and Secret of config.files / config.secrets
  persistence  (area on)  the local StorageClass + PersistentVolumes (persistence.local)
  workload                the StatefulSet (kind, default when the persistence area is on)
                          or Deployment, from the container and pod parts below
  topology     (area on)  the Services named in `services` over `ports`, the PodDisruptionBudget
  session      (area on)  the embedded Redis store; with `expose`, the Ingress or HTTPRoute
                          carrying the sticky-session settings
  connection   (area on)  the gRPC Ingress, GRPCRoute, client ConfigMap and the Envoy front
                          proxy of connection.mode
  network      (area on)  the NetworkPolicy of the pods (and of the Envoy front proxy)
  hooks.resources         the chart's own manifests (list of template names)
Keys:
  ctx, values, path  (see _values.tpl; `values` is the chart's tree, still gated by its areas)
  kind            StatefulSet | Deployment
  container, initContainers, containers, volumes, podAnnotations, podLabels, configStep
                  the workload arguments (see _workload.tpl); a Deployment's container
                  without `lifecycle` gets a preStop sleep of min(5, half of
                  workload.terminationGracePeriodSeconds) seconds (none under 2): a
                  stopping pod keeps serving while its address leaves the Services
  ports           Service ports (default topology.ports, else the container's ports)
  services        which Services: any of service (FULLNAME), headless, primary, read
                  (default: Deployment [service]; StatefulSet [headless primary read])
  expose          dict {mode: none|ingress|gateway, ingress, gateway}: destate.session.expose
  frontProxy      dict {replicas}: the Envoy front proxy of connection.mode envoy
                  (destate.connection.frontProxy)
  network         more arguments of destate.network.policy (default ports: the
                  container ports; the chart's helm test pod, labelled
                  app.kubernetes.io/name=CHART-test, is let in when tests.enabled is true)
  hooks           dict of the chart's templates the loader calls with the root context:
                    validate   renders nothing, fails with a message naming the key
                    resources  list of template names, each rendering more manifests
The root context alone is accepted too: {{ include "destate.app.render" . }} renders from
values only (topology.ports, workload.* and the areas' keys).
Example (a whole chart): {{- include "destate.app.render" (dict "ctx" $ "container" (dict "name" "app")) }}
*/}}
{{- define "destate.app.render" -}}
{{- if and (kindIs "map" .) (hasKey . "Release") (not (hasKey . "ctx")) -}}
{{- template "destate.app.render" (dict "ctx" .) -}}
{{- else -}}
{{- template "destate.args.check" (list . "destate.app.render" (concat (fromJsonArray (include "destate.workload.argKeys" .)) (list "ports" "services" "expose" "network" "frontProxy" "hooks"))) -}}
{{- $ctx := .ctx -}}
{{- $hooks := .hooks | default dict -}}
{{- range $k := keys $hooks | sortAlpha -}}
{{- if not (has $k (list "validate" "resources")) -}}
{{- fail (printf "destate: destate.app.render got an unknown hook %q (allowed: validate, resources)" $k) -}}
{{- end -}}
{{- end -}}
{{- with $hooks.validate -}}{{- include . $ctx -}}{{- end -}}
{{- $sub := pick . "ctx" "path" -}}
{{- if hasKey . "values" -}}
{{- $_ := set $sub "values" (fromJson (include "destate.values.gate" (pick . "ctx" "values"))) -}}
{{- end -}}
{{- template "destate.validate.all" $sub -}}
{{- $on := fromJsonArray (include "destate.values.areas" (dict "ctx" $ctx)) -}}
{{- $kind := .kind | default (ternary "StatefulSet" "Deployment" (has "persistence" $on)) -}}
{{- template "destate.validate.enum" (list "" "destate.app.render kind" $kind (list "StatefulSet" "Deployment")) -}}
{{- $container := .container | default dict -}}
{{- $ports := .ports -}}
{{- if not $ports -}}{{- $ports = (include "destate.values.key" $sub | get $sub.ctx.destateValues).topology.ports -}}{{- end -}}
{{- if not $ports -}}
{{- range $container.ports -}}
{{- $ports = append $ports (dict "name" .name "port" (int .containerPort)) -}}
{{- end -}}
{{- end -}}
{{- $workload := merge (dict "kind" $kind) (pick . "container" "initContainers" "containers" "volumes" "podAnnotations" "podLabels" "configStep") (pick $sub "ctx" "values" "path") -}}
{{- if and (eq $kind "Deployment") (has "topology" $on) (not (hasKey $container "lifecycle")) -}}
{{- /* a stopping pod keeps serving while its address leaves the Service (kube-proxy and
ingress controllers follow the endpoints a moment later): no request meets a closed port */ -}}
{{- $grace := (include "destate.values.key" $sub | get $sub.ctx.destateValues).workload.terminationGracePeriodSeconds -}}
{{- $drain := min 5 (div (int $grace) 2) -}}
{{- if gt (int $drain) 0 -}}
{{- $_ := set $workload "container" (merge (dict "lifecycle" (dict "preStop" (dict "sleep" (dict "seconds" (int $drain))))) $container) -}}
{{- end -}}
{{- end -}}
{{- if has "config" $on }}
{{ template "destate.config.configMap" (omit $sub "path") }}
---
{{ template "destate.config.secret" (omit $sub "path") }}
{{- end }}
{{- if has "persistence" $on }}
---
{{ template "destate.persistence.localVolumes" (omit $sub "path") }}
{{- end }}
---
{{- if eq $kind "StatefulSet" }}
{{ template "destate.workload.statefulset" $workload }}
{{- else }}
{{ template "destate.workload.deployment" $workload }}
{{- end }}
{{- if has "topology" $on }}
{{- $services := .services | default (ternary (list "headless" "primary" "read") (list "service") (eq $kind "StatefulSet")) }}
{{- range $s := $services }}
---
{{- $args := set (omit $sub "path") "ports" $ports }}
{{- if eq $s "service" }}
{{ template "destate.topology.service" $args }}
{{- else if eq $s "headless" }}
{{ template "destate.topology.headlessService" $args }}
{{- else if eq $s "primary" }}
{{ template "destate.topology.primaryService" $args }}
{{- else if eq $s "read" }}
{{ template "destate.topology.readService" $args }}
{{- else }}
{{- fail (printf "destate: destate.app.render services lists an unknown Service %q (known: service, headless, primary, read)" $s) }}
{{- end }}
{{- end }}
---
{{ template "destate.topology.pdb" (omit $sub "path") }}
{{- end }}
{{- if has "session" $on }}
---
{{ template "destate.session.redis" (omit $sub "path") }}
{{- with .expose }}
---
{{ template "destate.session.expose" (merge (dict "expose" . "ports" $ports) (omit $sub "path")) }}
{{- end }}
{{- end }}
{{- if has "connection" $on }}
---
{{ template "destate.connection.grpcIngress" (omit $sub "path") }}
---
{{ template "destate.connection.grpcRoute" (omit $sub "path") }}
---
{{ template "destate.connection.clientConfig" (omit $sub "path") }}
---
{{ template "destate.connection.frontProxy" (merge (.frontProxy | default dict) (omit $sub "path")) }}
{{- end }}
{{- if has "network" $on }}
---
{{ template "destate.network.appPolicy" (merge (dict "network" (.network | default dict) "container" $container "ports" $ports "expose" (.expose | default dict)) $sub) }}
{{- end }}
{{- range $hooks.resources }}
---
{{ include . $ctx }}
{{- end }}
{{- end -}}
{{- end -}}

{{/*
destate.network.testPeers — internal: the chart's helm test pod as a NetworkPolicy peer list
(JSON) when the chart's values say tests.enabled; else [].
*/}}
{{- define "destate.network.testPeers" -}}
{{- $peers := list -}}
{{- $tests := .ctx.Values.tests -}}
{{- if kindIs "map" $tests -}}{{- if $tests.enabled -}}
{{- $peers = append $peers (dict "podSelector" (dict "matchLabels" (dict "app.kubernetes.io/name" (printf "%s-test" .ctx.Chart.Name) "app.kubernetes.io/instance" .ctx.Release.Name))) -}}
{{- end -}}{{- end -}}
{{- toJson $peers -}}
{{- end -}}

{{/*
destate.network.appPolicy — internal: the NetworkPolicy of destate.app.render over the container
ports the Services point at: from any source (network.policy.allowExternal), else from the
chart's test pod, network.policy.clients and, when exposed (expose.mode, or
connection.mode ingress|gateway), network.policy.edge; egress to the session store. In
connection.mode envoy only the Envoy front proxy may call the pods (its own policy comes
with destate.connection.frontProxy). Then the chart's `network` arguments.
*/}}
{{- define "destate.network.appPolicy" -}}
{{- $byName := dict -}}
{{- range .container.ports -}}{{- $_ := set $byName .name (int .containerPort) -}}{{- end -}}
{{- $ports := list -}}
{{- range .ports -}}
{{- $target := .targetPort | default .name -}}
{{- $port := get $byName ($target | toString) | default $target -}}
{{- if not (has (int $port) $ports) -}}{{- $ports = append $ports (int $port) -}}{{- end -}}
{{- end -}}
{{- $sub := pick . "ctx" "values" "path" -}}
{{- $v := include "destate.values.key" (omit $sub "path") | get $sub.ctx.destateValues -}}
{{- $args := merge (dict "ports" $ports) $sub -}}
{{- if eq $v.connection.mode "envoy" -}}
{{- $_ := set $args "external" false -}}
{{- $_ := set $args "clients" list -}}
{{- $_ := set $args "from" (fromYamlArray (include "destate.network.peer" (dict "ctx" .ctx "component" "envoy"))) -}}
{{- else -}}
{{- $_ := set $args "from" (fromJsonArray (include "destate.network.testPeers" .)) -}}
{{- if or (and .expose.mode (ne .expose.mode "none")) (has $v.connection.mode (list "ingress" "gateway")) -}}
{{- $_ := set $args "edge" true -}}
{{- end -}}
{{- with include "destate.session.storeEgress" (omit $sub "path") -}}
{{- $_ := set $args "egress" (fromYamlArray .) -}}
{{- end -}}
{{- end -}}
{{- template "destate.network.policy" (merge (deepCopy .network) $args) -}}
{{- end -}}

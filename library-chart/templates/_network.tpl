{{/*
Network: which pods may open connections to the release's pods, and where those pods may
connect (networking.k8s.io/v1 NetworkPolicy). A replaceable pod gets its peers back by
label, never by address, so every rule here selects pods by their selector labels.
Values: `network` (see schema/network.json).
*/}}

{{/*
destate.network.peer — a NetworkPolicy peer (a list with one item) selecting the pods of
ctx/values/component in the release namespace: podSelector.matchLabels =
destate.labels.selector. Use it in a policy's `from`, or as the `to` of an egress rule.
Keys: ctx, values, component.
Example:
  from:
    {{- include "destate.network.peer" (dict "ctx" $ "component" "envoy") | nindent 4 }}
*/}}
{{- define "destate.network.peer" -}}
{{- template "destate.args.check" (list . "destate.network.peer" list) -}}
- podSelector:
    matchLabels:
      {{- include "destate.labels.selectorOf" (list .ctx .component) | nindent 6 }}
{{- end -}}

{{/*
destate.network.ports — internal: NetworkPolicy ports (JSON list) from a list of port
numbers or {port, protocol?, endPort?} maps; protocol defaults to TCP.
*/}}
{{- define "destate.network.ports" -}}
{{- $out := list -}}
{{- range $p := . -}}
{{- if kindIs "map" $p -}}
{{- if not $p.port -}}
{{- fail (printf "destate: a NetworkPolicy port needs a port (got %s)" (toJson $p)) -}}
{{- end -}}
{{- $port := dict "protocol" ($p.protocol | default "TCP") -}}
{{- if kindIs "string" $p.port -}}
{{- $_ := set $port "port" $p.port -}}
{{- else -}}
{{- $_ := set $port "port" (int $p.port) -}}
{{- end -}}
{{- with $p.endPort -}}{{- $_ := set $port "endPort" (int .) -}}{{- end -}}
{{- $out = append $out $port -}}
{{- else -}}
{{- $out = append $out (dict "port" (int $p) "protocol" "TCP") -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/*
destate.network.checkPeer — internal: fail unless a value is one NetworkPolicy peer:
podSelector and/or namespaceSelector (label selectors), or an ipBlock with a cidr alone.
Usage: include "destate.network.checkPeer" (list $prefix "network.policy.clients[0]" $peer)
*/}}
{{- define "destate.network.checkPeer" -}}
{{- $p := index . 0 -}}{{- $path := index . 1 -}}{{- $peer := index . 2 -}}
{{- if not (kindIs "map" $peer) -}}
{{- template "destate.validate.fail" (list $p $path "be a NetworkPolicy peer: a map with podSelector, namespaceSelector or ipBlock" (printf "%s %s" (kindOf $peer) (toJson $peer))) -}}
{{- end -}}
{{- if not $peer -}}
{{- template "destate.validate.fail" (list $p $path "set podSelector, namespaceSelector or ipBlock (an empty peer is rejected by the API)" "{}") -}}
{{- end -}}
{{- range $k := keys $peer | sortAlpha -}}
{{- if not (has $k (list "podSelector" "namespaceSelector" "ipBlock")) -}}
{{- template "destate.validate.fail" (list $p $path "only set podSelector, namespaceSelector or ipBlock" (printf "key %q" $k)) -}}
{{- end -}}
{{- end -}}
{{- range $k := list "podSelector" "namespaceSelector" -}}
{{- if and (hasKey $peer $k) (not (kindIs "map" (get $peer $k))) -}}
{{- template "destate.validate.fail" (list $p (printf "%s.%s" $path $k) "be a label selector map (matchLabels, matchExpressions; {} selects all)" (toJson (get $peer $k))) -}}
{{- end -}}
{{- end -}}
{{- if hasKey $peer "ipBlock" -}}
{{- if or (hasKey $peer "podSelector") (hasKey $peer "namespaceSelector") -}}
{{- template "destate.validate.fail" (list $p $path "not combine ipBlock with podSelector or namespaceSelector (make them two peers)" (toJson $peer)) -}}
{{- end -}}
{{- if not (and (kindIs "map" $peer.ipBlock) $peer.ipBlock.cidr) -}}
{{- template "destate.validate.fail" (list $p (printf "%s.ipBlock.cidr" $path) "be a CIDR such as 10.0.0.0/8" (toJson $peer.ipBlock)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.validate.network — every network.policy.clients, .edge and .dns item is one
NetworkPolicy peer (podSelector/namespaceSelector, or an ipBlock alone); restrictEgress
needs at least one DNS peer. Keys: ctx, values, path.
*/}}
{{- define "destate.validate.network" -}}
{{- if include "destate.validate.once" (list . "network") -}}
{{- $p := .path | default "" -}}
{{- $np := (include "destate.values.key" . | get .ctx.destateValues).network.policy -}}
{{- range $list := list "clients" "edge" "dns" -}}
{{- $items := get $np $list -}}
{{- if not (kindIs "slice" $items) -}}
{{- template "destate.validate.fail" (list $p (printf "network.policy.%s" $list) "be a list of NetworkPolicy peers" (toJson $items)) -}}
{{- end -}}
{{- range $i, $peer := $items -}}
{{- template "destate.network.checkPeer" (list $p (printf "network.policy.%s[%d]" $list $i) $peer) -}}
{{- end -}}
{{- end -}}
{{- if and $np.restrictEgress (not $np.dns) -}}
{{- template "destate.validate.fail" (list $p "network.policy.dns" "list at least one DNS server peer when network.policy.restrictEgress is true (pods could not resolve names)" "[]") -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
destate.network.policy — a networking.k8s.io/v1 NetworkPolicy FULLNAME[-COMPONENT] over
the pods of ctx/values/component (podSelector = their selector labels). Nothing unless
network.policy.enabled.
Ingress: on `ports`, any source when `external` (default network.policy.allowExternal);
otherwise only the peers of `from` (the release's own callers, e.g. the app for its
Redis, Envoy for its servers, the helm test pod), `clients` (default
network.policy.clients) and, with `edge`, network.policy.edge (the Ingress/Gateway
controller). `peerPorts`: ports the pods use among themselves (replicas <-> primary).
Then network.policy.extraIngress.
Egress: unrestricted unless network.policy.restrictEgress; then only DNS
(network.policy.dns on 53/UDP and 53/TCP), the pods themselves on `peerPorts`, the
rules of `egress` (what the pods need, e.g. the app -> its Redis) and
network.policy.extraEgress.
Keys: ctx, values, component, path, ports (required: list of port numbers or {port,
protocol, endPort} maps), from (list of peers), external (bool), clients (list of peers),
edge (bool), peerPorts (list, as ports), egress (list of NetworkPolicy egress rules).
Example:
  {{ include "destate.network.policy" (dict "ctx" $ "ports" (list 3306) "peerPorts" (list 3306)) }}
*/}}
{{- define "destate.network.policy" -}}
{{- template "destate.args.check" (list . "destate.network.policy" (list "ports" "from" "external" "clients" "edge" "peerPorts" "egress")) -}}
{{- template "destate.validate.network" . -}}
{{- $np := (include "destate.values.key" . | get .ctx.destateValues).network.policy -}}
{{- if $np.enabled -}}
{{- if not .ports -}}
{{- fail "destate: destate.network.policy needs ports (the ports clients connect to)" -}}
{{- end -}}
{{- $p := .path | default "" -}}
{{- $sub := pick . "ctx" "values" "component" -}}
{{- $ports := fromJsonArray (include "destate.network.ports" .ports) -}}
{{- $external := $np.allowExternal -}}
{{- if hasKey . "external" -}}{{- $external = .external -}}{{- end -}}
{{- $clients := $np.clients -}}
{{- if hasKey . "clients" -}}{{- $clients = .clients | default list -}}{{- end -}}
{{- $self := fromYamlArray (include "destate.network.peer" $sub) -}}
{{- $ingress := list -}}
{{- if $external -}}
{{- $ingress = append $ingress (dict "ports" $ports) -}}
{{- else -}}
{{- $from := concat (.from | default list) $clients -}}
{{- if .edge -}}
{{- if not $np.edge -}}
{{- template "destate.validate.fail" (list $p "network.policy.edge" "list the Ingress/Gateway controller's pods or namespace when the chart is exposed through an Ingress or Gateway and network.policy.allowExternal is false" "[]") -}}
{{- end -}}
{{- $from = concat $from $np.edge -}}
{{- end -}}
{{- if $from -}}
{{- $ingress = append $ingress (dict "from" $from "ports" $ports) -}}
{{- end -}}
{{- end -}}
{{- $peerPorts := fromJsonArray (include "destate.network.ports" (.peerPorts | default list)) -}}
{{- $covered := $external -}}
{{- range $peerPorts -}}
{{- if not (has . $ports) -}}{{- $covered = false -}}{{- end -}}
{{- end -}}
{{- if and $peerPorts (not $covered) -}}
{{- $ingress = append $ingress (dict "from" $self "ports" $peerPorts) -}}
{{- end -}}
{{- $ingress = concat $ingress $np.extraIngress -}}
{{- $egress := list -}}
{{- if $np.restrictEgress -}}
{{- $egress = append $egress (dict "to" $np.dns "ports" (list (dict "port" 53 "protocol" "UDP") (dict "port" 53 "protocol" "TCP"))) -}}
{{- if $peerPorts -}}
{{- $egress = append $egress (dict "to" $self "ports" $peerPorts) -}}
{{- end -}}
{{- $egress = concat $egress (.egress | default list) $np.extraEgress -}}
{{- end }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  {{- include "destate.labels.metadataOf" $sub | nindent 2 }}
spec:
  podSelector:
    matchLabels:
      {{- include "destate.labels.selectorOf" (list $sub.ctx $sub.component) | nindent 6 }}
  policyTypes:
    - Ingress
    {{- if $np.restrictEgress }}
    - Egress
    {{- end }}
  {{- with $ingress }}
  ingress:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $np.restrictEgress }}
  egress:
    {{- toYaml $egress | nindent 4 }}
  {{- end }}
{{- end -}}
{{- end -}}

{{/*
destate.network.off — internal: the overlay laid over the chart's values when its Chart.yaml
does not list the network area (see destate.values.areas in _values.tpl).
*/}}
{{- define "destate.network.off" -}}
network:
  policy:
    enabled: false
{{- end -}}

{{/*
destate.network.defaults — internal: the `network` defaults of this area (YAML), part of
destate.values.defaults; schema/network.json documents every key.
*/}}
{{- define "destate.network.defaults" -}}
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

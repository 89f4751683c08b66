{{/*
mysql chart helpers: only what is specific to MySQL/MariaDB. Everything generic
(names, labels, the StatefulSet, Services, PVCs, config overlay, secrets) comes from
the destate library.
*/}}

{{/*
mysql.flavor — the validated flavor (mysql|mariadb).
*/}}
{{- define "mysql.flavor" -}}
{{- $f := .Values.flavor | default "mysql" -}}
{{- if not (has $f (list "mysql" "mariadb")) -}}
{{- fail (printf "destate: flavor must be one of mysql, mariadb (got %v)" $f) -}}
{{- end -}}
{{- $f -}}
{{- end -}}

{{/*
mysql.values — the chart's values with the image filled in from the flavor when
image.repository / image.tag are empty (JSON, which is cheaper to write and read than
YAML): the `values` of destate.app.render.
*/}}
{{- define "mysql.values" -}}
{{- $v := deepCopy .Values -}}
{{- $_ := set $v "image" (fromJson (include "mysql.imageValues" .)) -}}
{{- toJson $v -}}
{{- end -}}

{{/*
mysql.imageValues — the chart's `image` values, repository / tag from the flavor when
empty (JSON).
*/}}
{{- define "mysql.imageValues" -}}
{{- $flavor := include "mysql.flavor" . -}}
{{- $defaults := dict "mysql" (dict "repository" "mysql" "tag" "8.4") "mariadb" (dict "repository" "mariadb" "tag" "11.4") -}}
{{- $img := deepCopy (.Values.image | default dict) -}}
{{- $_ := set $img "repository" ($img.repository | default (index $defaults $flavor "repository")) -}}
{{- $_ := set $img "tag" ($img.tag | default (index $defaults $flavor "tag") | toString) -}}
{{- toJson $img -}}
{{- end -}}

{{/*
mysql.image — the server image (flavor default when unset; global.imageRegistry honoured).
*/}}
{{- define "mysql.image" -}}
{{- include "destate.workload.image" (dict "ctx" . "image" (fromJson (include "mysql.imageValues" .))) -}}
{{- end -}}

{{/*
mysql.client — the command-line client of the flavor (MariaDB 11 images ship no `mysql`).
*/}}
{{- define "mysql.client" -}}
{{- if eq (include "mysql.flavor" .) "mariadb" -}}mariadb{{- else -}}mysql{{- end -}}
{{- end -}}

{{/*
mysql.authSecretName — the Secret with root-password and replication-password:
auth.existingSecret, else FULLNAME-auth.
*/}}
{{- define "mysql.authSecretName" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "destate.names.fullname" (dict "ctx" .))) -}}
{{- end -}}

{{/*
mysql.scriptsName / mysql.roleConfigName — the scripts and role-config ConfigMaps.
*/}}
{{- define "mysql.scriptsName" -}}
{{- printf "%s-scripts" (include "destate.names.fullname" (dict "ctx" .) | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{- define "mysql.roleConfigName" -}}
{{- printf "%s-role" (include "destate.names.fullname" (dict "ctx" .) | trunc 58 | trimSuffix "-") -}}
{{- end -}}

{{/*
mysql.scriptsData — ConfigMap data: every scripts/*.sh file, unchanged.
*/}}
{{- define "mysql.scriptsData" -}}
{{- /* the ConfigMap and the pods' checksum both need it: built once per render */ -}}
{{- if not (hasKey . "mysqlScriptsData") -}}
{{- $data := dict -}}
{{- range $path, $_ := .Files.Glob "scripts/*.sh" -}}
{{- $_ := set $data (base $path) ($.Files.Get $path) -}}
{{- end -}}
{{- if not $data -}}{{- fail "destate: charts/mysql/scripts/*.sh are missing from the chart" -}}{{- end -}}
{{- $_ := set . "mysqlScriptsData" (toYaml $data) -}}
{{- end -}}
{{- .mysqlScriptsData -}}
{{- end -}}

{{/*
mysql.roleData — ConfigMap data: files/FLAVOR/primary.cnf and replica.cnf.
*/}}
{{- define "mysql.roleData" -}}
{{- $flavor := include "mysql.flavor" . -}}
{{- $data := dict -}}
{{- range $role := list "primary" "replica" -}}
{{- $_ := set $data (printf "%s.cnf" $role) ($.Files.Get (printf "files/%s/%s.cnf" $flavor $role)) -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/*
mysql.env — env of every mysql container (the scripts' contract, see scripts/common.sh),
after the library's pod identity env.
*/}}
{{- define "mysql.env" -}}
{{- $secret := include "mysql.authSecretName" . -}}
- name: MYSQL_FLAVOR
  value: {{ include "mysql.flavor" . | quote }}
- name: SERVER_ID_BASE
  value: {{ int .Values.replication.serverIdBase | toString | quote }}
- name: MYSQL_ROOT_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: root-password
- name: MYSQL_REPLICATION_USER
  value: {{ .Values.auth.replicationUser | quote }}
- name: MYSQL_REPLICATION_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: replication-password
- name: CATCH_UP
  value: {{ .Values.replication.catchUp | toString | quote }}
- name: CONFIG_SRC
  value: {{ include "mysql.configSources" . | quote }}
- name: CONFIG_DEST
  value: {{ .Values.config.mountPath | quote }}
- name: DATA_DIR
  value: {{ .Values.persistence.mountPath | quote }}
{{- end -}}

{{/*
mysql.validate — chart-specific checks (messages name the value path).
*/}}
{{- define "mysql.validate" -}}
{{- $_ := include "mysql.flavor" . -}}
{{- if lt (int .Values.replication.serverIdBase) 1 -}}
{{- fail (printf "destate: replication.serverIdBase must be >= 1 (got %v)" .Values.replication.serverIdBase) -}}
{{- end -}}
{{- if not .Values.config.writable -}}
{{- fail "destate: config.writable must be true for the mysql chart: the init container writes server-id and the role file into config.mountPath (got false)" -}}
{{- end -}}
{{- if not .Values.auth.replicationUser -}}
{{- fail "destate: auth.replicationUser must not be empty (got \"\")" -}}
{{- end -}}
{{- end -}}

{{/*
mysql.probeCommand — an exec probe running SQL (or ping) as root over TCP.
Argument: list (root context) ("ping"|SQL).
*/}}
{{- define "mysql.probeCommand" -}}
{{- $ctx := index . 0 -}}
{{- $what := index . 1 -}}
{{- $flavor := include "mysql.flavor" $ctx -}}
{{- $admin := ternary "mariadb-admin" "mysqladmin" (eq $flavor "mariadb") -}}
{{- $client := include "mysql.client" $ctx -}}
{{- if eq $what "ping" -}}
{{- list "sh" "-c" (printf "MYSQL_PWD=\"$MYSQL_ROOT_PASSWORD\" %s --protocol=TCP -h 127.0.0.1 -u root ping" $admin) | toJson -}}
{{- else -}}
{{- list "sh" "-c" (printf "MYSQL_PWD=\"$MYSQL_ROOT_PASSWORD\" %s --protocol=TCP -h 127.0.0.1 -u root -N -B -e %s" $client (squote $what)) | toJson -}}
{{- end -}}
{{- end -}}

{{/*
mysql.configSources — CONFIG_SRC of init-config.sh: the role files, the user's
config.files, and (when there are any) the user's config.secrets, in that order.
*/}}
{{- define "mysql.configSources" -}}
{{- $dirs := list "/destate/config-src/role" "/destate/config-src/user" -}}
{{- if or .Values.config.secrets .Values.config.existingSecret -}}
{{- $dirs = append $dirs "/destate/config-src/secret" -}}
{{- end -}}
{{- join ":" $dirs -}}
{{- end -}}

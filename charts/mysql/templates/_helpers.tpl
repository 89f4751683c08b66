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
image.repository / image.tag are empty (JSON): the tree every destate template reads
(Chart.yaml annotation destate/values).
*/}}
{{- define "mysql.values" -}}
{{- toJson (set (omit .Values "image") "image" (fromJson (include "mysql.imageValues" .))) -}}
{{- end -}}

{{/*
mysql.imageValues — the chart's `image` values, repository / tag from the flavor when
empty (JSON).
*/}}
{{- define "mysql.imageValues" -}}
{{- if not (hasKey . "mysqlImageValues") -}}
{{- $flavor := include "mysql.flavor" . -}}
{{- $defaults := dict "mysql" (dict "repository" "mysql" "tag" "8.4") "mariadb" (dict "repository" "mariadb" "tag" "11.4") -}}
{{- $img := deepCopy (.Values.image | default dict) -}}
{{- $_ := set $img "repository" ($img.repository | default (index $defaults $flavor "repository")) -}}
{{- $_ := set $img "tag" ($img.tag | default (index $defaults $flavor "tag")) -}}
{{- $_ := set . "mysqlImageValues" (toJson $img) -}}
{{- end -}}
{{- .mysqlImageValues -}}
{{- end -}}

{{/*
mysql.image — the server image (flavor default when unset; global.imageRegistry honoured).
Both are built once per render (.mysqlImageValues, .mysqlImage): the chart's templates
ask for them several times.
*/}}
{{- define "mysql.image" -}}
{{- if not (hasKey . "mysqlImage") -}}
{{- $_ := set . "mysqlImage" (include "destate.workload.image" (dict "ctx" . "image" (fromJson (include "mysql.imageValues" .)))) -}}
{{- end -}}
{{- .mysqlImage -}}
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
mysql.scriptsChecksum — the pods' checksum of the same files.
*/}}
{{- define "mysql.scriptsData" -}}
{{- include "mysql.scriptFiles" . -}}
{{- include "mysql.literalYaml" .mysqlScriptFiles -}}
{{- end -}}

{{- define "mysql.scriptsChecksum" -}}
{{- include "mysql.scriptFiles" . -}}
{{- include "mysql.filesChecksum" .mysqlScriptFiles -}}
{{- end -}}

{{/*
mysql.filesChecksum — internal: the checksum of a files dict (name -> content) as the
chart has always computed it from the ConfigMap data read back: Helm's toYaml drops the
document's final newline, the last file's when it is a literal block (as all of the
chart's are), so that file is hashed without it. The same value means an upgrade does
not roll the pods for nothing.
*/}}
{{- define "mysql.filesChecksum" -}}
{{- $last := keys . | sortAlpha | last -}}
{{- include "destate.config.checksum" (set (omit . $last) $last (get . $last | trimSuffix "\n")) -}}
{{- end -}}

{{/*
mysql.scriptFiles — internal: reads scripts/*.sh once per render into the root context
(.mysqlScriptFiles, name -> content): the checksum hashes the dict itself, so 26 kB of
scripts are never written as YAML and parsed back. Prints nothing.
*/}}
{{- define "mysql.scriptFiles" -}}
{{- if not (hasKey . "mysqlScriptFiles") -}}
{{- $data := dict -}}
{{- range $path, $_ := .Files.Glob "scripts/*.sh" -}}
{{- $_ := set $data (base $path) ($.Files.Get $path) -}}
{{- end -}}
{{- if not $data -}}{{- fail "destate: charts/mysql/scripts/*.sh are missing from the chart" -}}{{- end -}}
{{- $_ := set . "mysqlScriptFiles" $data -}}
{{- end -}}
{{- end -}}

{{/*
mysql.literalYaml — internal: a files dict (name -> content) as YAML with each file a
literal block, byte for byte what toYaml writes for such files but without its JSON and
YAML round trip (the scripts are 26 kB). A file toYaml would write in another style
(a tab, a carriage return, a space before a line break, leading whitespace, not exactly
one final newline) sends the whole dict through toYaml; chart_tests/test_charts_mysql.py
keeps the scripts plain text (no other control characters).
*/}}
{{- define "mysql.literalYaml" -}}
{{- $literal := regexMatch `^([a-z0-9][-a-z0-9_.]*\n)+$` (printf "%s\n" (keys . | sortAlpha | join "\n")) -}}
{{- range $name, $content := . -}}
{{- if or (not (hasSuffix "\n" $content)) (hasSuffix "\n\n" $content) (hasPrefix " " $content) (hasPrefix "\n" $content) (contains "\t" $content) (contains "\r" $content) (contains " \n" $content) -}}
{{- $literal = false -}}
{{- end -}}
{{- end -}}
{{- if $literal -}}
{{- $blocks := list -}}
{{- range $name, $content := . -}}
{{- /* indent, then empty lines lose their indentation, as YAML writes them (two passes: a
replacement consumes the line break the next empty line starts with) */ -}}
{{- $body := indent 2 $content | replace "\n  \n" "\n\n" | replace "\n  \n" "\n\n" | trimSuffix "  " -}}
{{- $blocks = append $blocks (printf "%s: |\n%s" $name $body) -}}
{{- end -}}
{{- join "" $blocks | trimSuffix "\n" -}}
{{- else -}}
{{- toYaml . -}}
{{- end -}}
{{- end -}}

{{/*
mysql.roleData — ConfigMap data: files/FLAVOR/primary.cnf and replica.cnf.
mysql.roleChecksum — the pods' checksum of the same files.
*/}}
{{- define "mysql.roleData" -}}
{{- include "mysql.literalYaml" (include "mysql.roleFiles" . | get .mysqlRoleFiles) -}}
{{- end -}}

{{- define "mysql.roleChecksum" -}}
{{- include "mysql.filesChecksum" (include "mysql.roleFiles" . | get .mysqlRoleFiles) -}}
{{- end -}}

{{/*
mysql.roleFiles — internal: the flavor's role files, read once per render into
.mysqlRoleFiles (flavor -> name -> content); prints the flavor, the key there.
*/}}
{{- define "mysql.roleFiles" -}}
{{- $flavor := include "mysql.flavor" . -}}
{{- if not (hasKey . "mysqlRoleFiles") -}}{{- $_ := set . "mysqlRoleFiles" dict -}}{{- end -}}
{{- if not (hasKey .mysqlRoleFiles $flavor) -}}
{{- $data := dict -}}
{{- range $role := list "primary" "replica" -}}
{{- $_ := set $data (printf "%s.cnf" $role) ($.Files.Get (printf "files/%s/%s.cnf" $flavor $role)) -}}
{{- end -}}
{{- $_ := set .mysqlRoleFiles $flavor $data -}}
{{- end -}}
{{- $flavor -}}
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

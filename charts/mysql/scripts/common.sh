#!/bin/bash
# common.sh — shared by the mysql chart's scripts (sourced, never run). Not a step.
#
# Env contract (every script of this directory reads these; defaults are the pod's):
#   POD_NAME                    pod name, e.g. db-mysql-2 (default: hostname)
#   POD_ORDINAL                 StatefulSet ordinal (default: the -N suffix of POD_NAME)
#   POD_NAMESPACE               namespace (default: default)
#   HEADLESS_SERVICE            headless Service giving the pods stable DNS names
#   CLUSTER_DOMAIN              cluster DNS domain (default: cluster.local)
#   POD_FQDN                    this pod's stable name (default: POD_NAME.HEADLESS_SERVICE.POD_NAMESPACE.svc.CLUSTER_DOMAIN)
#   PRIMARY_ORDINAL             ordinal of the primary (default: 0)
#   PRIMARY_HOST                address of the primary (default: <statefulset>-PRIMARY_ORDINAL.HEADLESS_SERVICE.POD_NAMESPACE.svc.CLUSTER_DOMAIN)
#   PRIMARY_PORT                port of the primary (default: MYSQL_PORT)
#   MYSQL_FLAVOR                mysql | mariadb (default: mysql)
#   SERVER_ID_BASE              server-id of ordinal 0; server-id = SERVER_ID_BASE + POD_ORDINAL (default: 100)
#   MYSQL_ROOT_PASSWORD         root password of the local server (required by the SQL steps)
#   MYSQL_REPLICATION_USER      user the replicas connect as (default: replicator)
#   MYSQL_REPLICATION_PASSWORD  its password (required by the SQL steps)
#   CONFIG_SRC                  ':'-separated directories holding primary.cnf, replica.cnf and
#                               the user's config files (default: /config-src)
#   CONFIG_DEST                 directory the server includes (default: /etc/mysql/conf.d)
#   DATA_DIR                    the server's data directory (default: /var/lib/mysql)
# For running outside Kubernetes (tests) and tuning:
#   MYSQL_HOST                  address of the local server for SQL (default: 127.0.0.1)
#   MYSQL_PORT                  port of the local server (default: 3306)
#   MYSQL_CLIENT                client binary (default: mariadb or mysql by flavor)
#   MYSQL_DUMP                  dump binary for the MariaDB catch-up (default: mariadb-dump)
#   CATCH_UP                    true: an empty new replica copies the primary's data first (default: true)
#   WAIT_TIMEOUT                seconds to wait for a server to answer (default: 300)
#   LOOP_INTERVAL               seconds between checks of `configure-replication.sh --loop` (default: 15)

set -euo pipefail

log() { echo "destate-mysql[${POD_NAME:-?}]: $*" >&2; }
die() { log "error: $*"; exit 1; }
# note: like log, but silent in the later rounds of a --loop (DESTATE_QUIET=1)
note() { if [ "${DESTATE_QUIET:-0}" != 1 ]; then log "$@"; fi; }

: "${POD_NAME:=$(hostname)}"
if [ -z "${POD_ORDINAL:-}" ]; then
  POD_ORDINAL=${POD_NAME##*-}
fi
case $POD_ORDINAL in
  '' | *[!0-9]*) die "POD_ORDINAL must be a non-negative integer (got '$POD_ORDINAL')" ;;
esac
: "${POD_NAMESPACE:=default}"
: "${HEADLESS_SERVICE:=}"
: "${CLUSTER_DOMAIN:=cluster.local}"
: "${PRIMARY_ORDINAL:=0}"
: "${MYSQL_FLAVOR:=mysql}"
: "${SERVER_ID_BASE:=100}"
: "${MYSQL_REPLICATION_USER:=replicator}"
: "${CONFIG_SRC:=/config-src}"
: "${CONFIG_DEST:=/etc/mysql/conf.d}"
: "${DATA_DIR:=/var/lib/mysql}"
: "${MYSQL_HOST:=127.0.0.1}"
: "${MYSQL_PORT:=3306}"
: "${PRIMARY_PORT:=$MYSQL_PORT}"
: "${CATCH_UP:=true}"
: "${WAIT_TIMEOUT:=300}"
: "${LOOP_INTERVAL:=15}"

case $MYSQL_FLAVOR in
  mysql) : "${MYSQL_CLIENT:=mysql}" ;;
  mariadb) : "${MYSQL_CLIENT:=mariadb}" ;;
  *) die "MYSQL_FLAVOR must be mysql or mariadb (got '$MYSQL_FLAVOR')" ;;
esac
: "${MYSQL_DUMP:=mariadb-dump}"
case $SERVER_ID_BASE in
  '' | *[!0-9]*) die "SERVER_ID_BASE must be a positive integer (got '$SERVER_ID_BASE')" ;;
esac

statefulset=${POD_NAME%-*}
if [ -n "$HEADLESS_SERVICE" ]; then
  : "${POD_FQDN:=$POD_NAME.$HEADLESS_SERVICE.$POD_NAMESPACE.svc.$CLUSTER_DOMAIN}"
  : "${PRIMARY_HOST:=$statefulset-$PRIMARY_ORDINAL.$HEADLESS_SERVICE.$POD_NAMESPACE.svc.$CLUSTER_DOMAIN}"
fi
: "${POD_FQDN:=$POD_NAME}"
: "${PRIMARY_HOST:=}"

SERVER_ID=$((SERVER_ID_BASE + POD_ORDINAL))
if [ "$POD_ORDINAL" -eq "$PRIMARY_ORDINAL" ]; then ROLE=primary; else ROLE=replica; fi
export ROLE SERVER_ID

# Passwords never appear on a command line (where `ps` shows them): the client gets its
# own by env (MYSQL_PWD) and SQL that holds one comes on standard input.
# sql_local SQL: run SQL as root on the local server, print tab-separated rows.
sql_local() {
  printf '%s\n' "$1" |
    MYSQL_PWD=${MYSQL_ROOT_PASSWORD:?MYSQL_ROOT_PASSWORD is required} "$MYSQL_CLIENT" \
      --protocol=TCP -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u root -N -B
}
# sql_primary SQL: run SQL on the primary as the replication user.
sql_primary() {
  printf '%s\n' "$1" |
    MYSQL_PWD=${MYSQL_REPLICATION_PASSWORD:?MYSQL_REPLICATION_PASSWORD is required} \
      "$MYSQL_CLIENT" --protocol=TCP -h "$PRIMARY_HOST" -P "$PRIMARY_PORT" \
      -u "$MYSQL_REPLICATION_USER" -N -B
}
# sql_quote TEXT: TEXT as a single-quoted SQL string literal.
sql_quote() {
  local s=${1//\\/\\\\}
  printf "'%s'" "${s//\'/\'\'}"
}

# wait_for NAME CMD...: retry CMD every second until it succeeds or WAIT_TIMEOUT passes.
wait_for() {
  local name=$1 deadline=$((SECONDS + WAIT_TIMEOUT))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "$name did not answer within ${WAIT_TIMEOUT}s"
    sleep 1
  done
}

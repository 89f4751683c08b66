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

# --- no catch-up over data the primary lacks --------------------------------------------
# Before a replica copies the primary's data over its own (clone-replica.sh) or first starts
# replicating, it must hold no transaction the primary lacks: otherwise it is a former
# primary (topology.primaryOrdinal or ordinals.start changed) and the copy would overwrite
# writes that exist nowhere else.
#   mariadb: every GTID of the replica's gtid_binlog_pos and gtid_slave_pos (domain-server-seq,
#            the last one per domain) must be in the primary's gtid_binlog_state or
#            gtid_slave_pos: same domain and server id, sequence number at least as high.
#   mysql:   GTID_SUBTRACT(replica's gtid_executed, primary's gtid_executed) must be empty.
#            Exception: the official image's first start loads the time zone tables with
#            binary logging on, so a new, empty replica has a few GTIDs of its own; a replica
#            whose only extra GTIDs are its own server_uuid's and that has no database besides
#            the system schemas has nothing to lose.

# mariadb_gtids_missing HAVE WANT: the entries of WANT (comma-separated domain-server-seq)
# that HAVE does not contain; empty when WANT is a subset of HAVE.
mariadb_gtids_missing() {
  awk -v have="$1" -v want="$2" '
    # a >= b for decimal strings of any length (sequence numbers are 64-bit)
    # (compared as strings: awk numbers are doubles)
    function ge(a, b) { return length(a) != length(b) ? length(a) > length(b) : (a "") >= (b "") }
    BEGIN {
      gsub(/[ \t\r\n]/, "", have); gsub(/[ \t\r\n]/, "", want)
      n = split(have, hs, ",")
      for (i = 1; i <= n; i++) {
        if (hs[i] == "") continue
        if (split(hs[i], p, "-") != 3) { print "unparsable:" hs[i]; exit }
        key = p[1] "-" p[2]
        if (!(key in top) || ge(p[3], top[key])) top[key] = p[3]
      }
      out = ""
      n = split(want, ws, ",")
      for (i = 1; i <= n; i++) {
        if (ws[i] == "") continue
        if (split(ws[i], p, "-") != 3) { print "unparsable:" ws[i]; exit }
        key = p[1] "-" p[2]
        if (!(key in top) || !ge(top[key], p[3])) out = out (out == "" ? "" : ",") ws[i]
      }
      print out
    }'
}

# errant_transactions: print the replica's transactions that the primary lacks (nothing:
# none); fails when a server cannot be asked.
errant_transactions() {
  local mine theirs
  if [ "$MYSQL_FLAVOR" = mysql ]; then
    local errant uuid schemas other
    mine=$(sql_local "SELECT @@GLOBAL.gtid_executed" | tr -d '\n') || return 1
    theirs=$(sql_primary "SELECT @@GLOBAL.gtid_executed" | tr -d '\n') || return 1
    errant=$(sql_local "SELECT GTID_SUBTRACT($(sql_quote "$mine"), $(sql_quote "$theirs"))" |
      tr -d '\n') || return 1
    [ -n "$errant" ] || return 0
    uuid=$(sql_local "SELECT @@GLOBAL.server_uuid") || return 1
    schemas=$(sql_local "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name
      NOT IN ('mysql', 'sys', 'information_schema', 'performance_schema')") || return 1
    other=$(printf '%s\n' "$errant" | tr ',' '\n' | grep -v -F -e "$uuid:" || true)
    if [ -n "$uuid" ] && [ -z "$other" ] && [ "$schemas" = 0 ]; then
      note "replica: its own GTIDs ($errant) come from the image's initialisation and it has no database: nothing to keep"
      return 0
    fi
    printf '%s\n' "$errant"
  else
    mine=$(sql_local "SELECT CONCAT_WS(',', NULLIF(@@GLOBAL.gtid_binlog_pos, ''),
      NULLIF(@@GLOBAL.gtid_slave_pos, ''))") || return 1
    theirs=$(sql_primary "SELECT CONCAT_WS(',', NULLIF(@@GLOBAL.gtid_binlog_state, ''),
      NULLIF(@@GLOBAL.gtid_slave_pos, ''))") || return 1
    mariadb_gtids_missing "$theirs" "$mine"
  fi
}

# require_gtid_subset WHAT: die (with the GTIDs and the way out) unless the replica holds no
# transaction the primary lacks. WHAT names the step that would have run.
require_gtid_subset() {
  local errant
  errant=$(errant_transactions) || die "could not compare GTIDs with the primary $PRIMARY_HOST"
  [ -z "$errant" ] && return 0
  log "REFUSING $1: this server ($POD_NAME, server-id $SERVER_ID) holds transactions that the primary $PRIMARY_HOST:$PRIMARY_PORT lacks: $errant"
  log "it was probably the primary before topology.primaryOrdinal or topology.ordinals.start changed; its data is left untouched"
  die "set topology.primaryOrdinal back to $POD_ORDINAL, or apply those transactions on the new primary first, or (to discard them) delete this pod's claim; see the mysql chart's README, \"Switching the primary\""
}

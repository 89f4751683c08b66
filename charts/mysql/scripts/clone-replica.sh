#!/bin/bash
# clone-replica.sh — copies the primary's data into a new, empty replica (catch-up step).
#
# Run by configure-replication.sh on a replica whose replication was never configured, while
# the local server runs, before replication starts. A replica restarted on its old data
# directory (the pod moved, its claim followed) has its replication configured already and is
# never copied again. Nothing is copied over a server that holds transactions the primary
# lacks (a former primary): it stops with a "REFUSING" log line (require_gtid_subset).
#   mysql:   the CLONE plugin: CLONE INSTANCE FROM the primary (the replication user has
#            BACKUP_ADMIN there). The server restarts on the cloned data (in a pod the
#            container restarts); the script waits for it to answer again.
#   mariadb: a consistent logical stream from the primary: mariadb-dump --single-transaction
#            --gtid --master-data of all databases, loaded with sql_log_bin=0, then
#            gtid_slave_pos is set to the dump's GTID position so replication continues
#            exactly after it. The copied accounts (the replication user too) work at once
#            (--flush-privileges), so the replica can be promoted or replicated from. It goes
#            through the authenticated replication user and needs no extra port.
#            (mariadb-backup only reads a local data directory: a physical stream would need
#            every pod to serve its backup on an extra, unauthenticated port, e.g. with socat,
#            as the Kubernetes tutorial does.)
# Writes DATA_DIR/destate-clone.done (source and GTID position) when done.
#
# Env (see common.sh): POD_NAME, POD_ORDINAL, MYSQL_FLAVOR, PRIMARY_HOST, PRIMARY_PORT,
#   MYSQL_ROOT_PASSWORD, MYSQL_REPLICATION_USER, MYSQL_REPLICATION_PASSWORD, DATA_DIR,
#   MYSQL_HOST, MYSQL_PORT, MYSQL_CLIENT, MYSQL_DUMP, WAIT_TIMEOUT.
# Usage: clone-replica.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$here/common.sh"

[ "$ROLE" = replica ] || die "clone-replica.sh runs on replicas only (ordinal $POD_ORDINAL is the primary)"
[ -n "$PRIMARY_HOST" ] || die "PRIMARY_HOST (or HEADLESS_SERVICE) is required"
: "${MYSQL_REPLICATION_PASSWORD:?MYSQL_REPLICATION_PASSWORD is required}"
marker=$DATA_DIR/destate-clone.done
started=$SECONDS
# never copy over transactions that exist only here (configure-replication.sh checked already)
[ "${DESTATE_GTID_CHECKED:-0}" = 1 ] || require_gtid_subset "to copy the primary's data over this server's"

if [ "$MYSQL_FLAVOR" = mysql ]; then
  have=$(sql_local "SELECT COUNT(*) FROM information_schema.plugins WHERE plugin_name='clone'")
  [ "$have" = 1 ] || sql_local "INSTALL PLUGIN clone SONAME 'mysql_clone.so'"
  sql_local "SET GLOBAL clone_valid_donor_list = $(sql_quote "$PRIMARY_HOST:$PRIMARY_PORT")"
  log "cloning from $PRIMARY_HOST:$PRIMARY_PORT (CLONE plugin)"
  # The server restarts after a clone; the client sees the connection drop.
  sql_local "CLONE INSTANCE FROM $(sql_quote "$MYSQL_REPLICATION_USER")@$(sql_quote "$PRIMARY_HOST"):$PRIMARY_PORT IDENTIFIED BY $(sql_quote "$MYSQL_REPLICATION_PASSWORD")" || true
  sleep 2
  wait_for "local server after clone" sql_local "SELECT 1"
  state=$(sql_local "SELECT state FROM performance_schema.clone_status" || true)
  [ "$state" = Completed ] || die "clone from $PRIMARY_HOST did not complete (state '$state')"
  position=$(sql_local "SELECT @@GLOBAL.gtid_executed" | tr -d '\n')
else
  dump=$(mktemp "${TMPDIR:-/tmp}/destate-clone.XXXXXX")
  trap 'rm -f "$dump"' EXIT
  log "copying all databases from $PRIMARY_HOST:$PRIMARY_PORT (mariadb-dump --gtid stream)"
  MYSQL_PWD=$MYSQL_REPLICATION_PASSWORD "$MYSQL_DUMP" --protocol=TCP -h "$PRIMARY_HOST" \
    -P "$PRIMARY_PORT" -u "$MYSQL_REPLICATION_USER" --all-databases --single-transaction \
    --gtid --master-data=2 --routines --events --triggers --flush-privileges \
    --ignore-table=mysql.gtid_slave_pos >"$dump"
  position=$(sed -n "s/^-- SET GLOBAL gtid_slave_pos='\([^']*\)'.*/\1/p" "$dump" | head -n1)
  [ -n "$position" ] || die "the dump from $PRIMARY_HOST has no GTID position"
  { echo "SET SESSION sql_log_bin = 0;"; cat "$dump"; } |
    MYSQL_PWD=$MYSQL_ROOT_PASSWORD "$MYSQL_CLIENT" --protocol=TCP -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u root
  sql_local "STOP SLAVE; SET GLOBAL gtid_slave_pos = $(sql_quote "$position")"
fi

printf 'source=%s:%s\ngtid=%s\nseconds=%s\n' "$PRIMARY_HOST" "$PRIMARY_PORT" "$position" \
  "$((SECONDS - started))" >"$marker" 2>/dev/null || log "note: could not write $marker"
log "copied the primary's data up to GTID $position in $((SECONDS - started))s"

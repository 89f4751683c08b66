#!/bin/bash
# configure-replication.sh — builds the primary/replica cluster once the local server answers.
#
# Waits (WAIT_TIMEOUT) for the local server, then by role (POD_ORDINAL == PRIMARY_ORDINAL:
# primary, else replica):
#   primary: stops and removes replication if the server was a replica before (a promoted
#            replica), then creates or updates the replication user MYSQL_REPLICATION_USER@'%'
#            with the rights to replicate and to be copied from (mysql: REPLICATION SLAVE,
#            BACKUP_ADMIN and the clone plugin; mariadb: REPLICATION SLAVE plus what
#            mariadb-dump needs).
#   replica: if replication was configured before (the pod restarted on its own data
#            directory) it only makes sure replication runs: no copy is taken again; if the
#            primary moved, it replicates from the new one from its own GTID position.
#            Otherwise it waits for PRIMARY_HOST, copies the primary's data when the primary has
#            any and CATCH_UP=true (clone-replica.sh), then points the server at the primary with
#            GTID auto-positioning and starts replication:
#              mysql:   CHANGE REPLICATION SOURCE TO ... SOURCE_AUTO_POSITION=1; START REPLICA
#              mariadb: CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos; START SLAVE
#            mysql replicas also get super_read_only=ON (read_only comes from replica.cnf).
#            Before it copies, replicates for the first time or follows a new primary, a replica
#            proves that it holds no transaction the primary lacks (require_gtid_subset in
#            common.sh); a former primary with writes the new primary lacks stops with a
#            "REFUSING" log line and keeps its data.
# Idempotent. With --loop it runs again every LOOP_INTERVAL seconds forever (a sidecar that
# also repairs replication after the server restarts, e.g. after a MySQL clone).
#
# Env (see common.sh for defaults): POD_NAME, POD_ORDINAL, HEADLESS_SERVICE, POD_NAMESPACE,
#   CLUSTER_DOMAIN, PRIMARY_ORDINAL, PRIMARY_HOST, PRIMARY_PORT, MYSQL_FLAVOR,
#   MYSQL_ROOT_PASSWORD, MYSQL_REPLICATION_USER, MYSQL_REPLICATION_PASSWORD, DATA_DIR,
#   MYSQL_HOST, MYSQL_PORT, MYSQL_CLIENT, MYSQL_DUMP, CATCH_UP, WAIT_TIMEOUT, LOOP_INTERVAL.
# Usage: configure-replication.sh [--loop]
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$here/common.sh"

: "${MYSQL_ROOT_PASSWORD:?MYSQL_ROOT_PASSWORD is required}"
: "${MYSQL_REPLICATION_PASSWORD:?MYSQL_REPLICATION_PASSWORD is required}"

# replica_field NAME-REGEX: a field of SHOW REPLICA STATUS (empty when never configured).
replica_field() {
  MYSQL_PWD=$MYSQL_ROOT_PASSWORD "$MYSQL_CLIENT" --protocol=TCP -h "$MYSQL_HOST" \
    -P "$MYSQL_PORT" -u root -E -e "SHOW REPLICA STATUS" |
    sed -n -E "s/^ *($1): *(.*)$/\\2/p" | head -n1
}

# replication_user_ready: the replication user logs in to the local server with its
# password and holds its grants (then nothing is written: no binlog event every loop).
replication_user_ready() {
  local grants
  grants=$(MYSQL_PWD=$MYSQL_REPLICATION_PASSWORD "$MYSQL_CLIENT" --protocol=TCP \
    -h "$MYSQL_HOST" -P "$MYSQL_PORT" -u "$MYSQL_REPLICATION_USER" -N -B \
    -e "SHOW GRANTS FOR CURRENT_USER()" 2>/dev/null) || return 1
  case $grants in *"REPLICATION SLAVE"*) ;; *) return 1 ;; esac
  if [ "$MYSQL_FLAVOR" = mysql ]; then
    case $grants in *BACKUP_ADMIN*) ;; *) return 1 ;; esac
  else
    case $grants in *"BINLOG MONITOR"*) ;; *) return 1 ;; esac
  fi
}

# stop_replicating: a primary replicates from no one (a replica promoted by a changed
# topology.primaryOrdinal still has its old source configured).
stop_replicating() {
  local source
  source=$(replica_field 'Master_Host|Source_Host')
  [ -n "$source" ] || return 0
  if [ "$MYSQL_FLAVOR" = mysql ]; then
    sql_local "STOP REPLICA; RESET REPLICA ALL"
  else
    sql_local "STOP SLAVE; RESET SLAVE ALL"
  fi
  log "primary (server-id $SERVER_ID): was a replica of $source; replication stopped and removed"
}

configure_primary() {
  stop_replicating
  if replication_user_ready; then
    note "primary (server-id $SERVER_ID): replication user $MYSQL_REPLICATION_USER in place"
    return 0
  fi
  local user pass
  user=$(sql_quote "$MYSQL_REPLICATION_USER")
  pass=$(sql_quote "$MYSQL_REPLICATION_PASSWORD")
  if [ "$MYSQL_FLAVOR" = mysql ]; then
    local have
    have=$(sql_local "SELECT COUNT(*) FROM information_schema.plugins WHERE plugin_name='clone'")
    [ "$have" = 1 ] || sql_local "INSTALL PLUGIN clone SONAME 'mysql_clone.so'"
    sql_local "CREATE USER IF NOT EXISTS $user@'%' IDENTIFIED BY $pass;
      ALTER USER $user@'%' IDENTIFIED BY $pass;
      GRANT REPLICATION SLAVE, BACKUP_ADMIN ON *.* TO $user@'%'"
  else
    sql_local "CREATE USER IF NOT EXISTS $user@'%' IDENTIFIED BY $pass;
      ALTER USER $user@'%' IDENTIFIED BY $pass;
      GRANT REPLICATION SLAVE, BINLOG MONITOR, RELOAD, SELECT, LOCK TABLES, SHOW VIEW, EVENT,
        TRIGGER ON *.* TO $user@'%'"
  fi
  log "primary (server-id $SERVER_ID): replication user $MYSQL_REPLICATION_USER ready"
}

primary_position() {
  if [ "$MYSQL_FLAVOR" = mysql ]; then
    sql_primary "SELECT @@GLOBAL.gtid_executed" | tr -d '\n'
  else
    sql_primary "SELECT @@GLOBAL.gtid_binlog_pos"
  fi
}

start_replication() {
  local host user pass
  host=$(sql_quote "$PRIMARY_HOST")
  user=$(sql_quote "$MYSQL_REPLICATION_USER")
  pass=$(sql_quote "$MYSQL_REPLICATION_PASSWORD")
  if [ "$MYSQL_FLAVOR" = mysql ]; then
    sql_local "STOP REPLICA;
      CHANGE REPLICATION SOURCE TO SOURCE_HOST=$host, SOURCE_PORT=$PRIMARY_PORT,
        SOURCE_USER=$user, SOURCE_PASSWORD=$pass, SOURCE_AUTO_POSITION=1,
        SOURCE_SSL=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=5;
      START REPLICA;
      SET GLOBAL super_read_only = ON"
  else
    sql_local "STOP SLAVE;
      CHANGE MASTER TO MASTER_HOST=$host, MASTER_PORT=$PRIMARY_PORT,
        MASTER_USER=$user, MASTER_PASSWORD=$pass, MASTER_USE_GTID=slave_pos,
        MASTER_CONNECT_RETRY=5;
      START SLAVE"
  fi
}

configure_replica() {
  [ -n "$PRIMARY_HOST" ] || die "PRIMARY_HOST (or HEADLESS_SERVICE) is required on a replica"
  local configured
  configured=$(replica_field 'Master_Host|Source_Host')
  if [ -n "$configured" ]; then
    local io sqlt
    io=$(replica_field 'Slave_IO_Running|Replica_IO_Running')
    sqlt=$(replica_field 'Slave_SQL_Running|Replica_SQL_Running')
    if [ "$configured" != "$PRIMARY_HOST" ]; then
      # the primary moved (topology.primaryOrdinal): follow it from this replica's position
      wait_for "primary $PRIMARY_HOST:$PRIMARY_PORT" sql_primary "SELECT 1"
      require_gtid_subset "to replicate from $PRIMARY_HOST instead of $configured"
      start_replication
      log "replica (server-id $SERVER_ID): now replicating from $PRIMARY_HOST:$PRIMARY_PORT (was $configured)"
      return 0
    fi
    if [ "$MYSQL_FLAVOR" = mysql ] && [ "$(sql_local "SELECT @@GLOBAL.super_read_only")" != 1 ]; then
      sql_local "SET GLOBAL super_read_only = ON" # a runtime setting: lost when the server restarts
    fi
    # "Connecting" (the primary is away) is left to the server's own retries
    if [ "$io" = No ] || [ "$sqlt" = No ]; then
      if [ "$MYSQL_FLAVOR" = mysql ]; then sql_local "START REPLICA"; else sql_local "START SLAVE"; fi
      log "replica (server-id $SERVER_ID): replication from $configured restarted on existing data"
    else
      note "replica (server-id $SERVER_ID): replicating from $configured on existing data, nothing to do"
    fi
    return 0
  fi
  wait_for "primary $PRIMARY_HOST:$PRIMARY_PORT" sql_primary "SELECT 1"
  require_gtid_subset "to copy the primary's data over this server's and replicate from it"
  local position
  position=$(primary_position)
  if [ -n "$position" ] && [ "$CATCH_UP" = true ]; then
    DESTATE_GTID_CHECKED=1 "$here/clone-replica.sh"
  elif [ -n "$position" ]; then
    log "CATCH_UP=$CATCH_UP: replaying the primary's binary logs from the start"
  fi
  start_replication
  log "replica (server-id $SERVER_ID): replicating from $PRIMARY_HOST:$PRIMARY_PORT"
}

configure_once() {
  wait_for "local server $MYSQL_HOST:$MYSQL_PORT" sql_local "SELECT 1"
  if [ "$ROLE" = primary ]; then configure_primary; else configure_replica; fi
}

case ${1:-} in
  '') configure_once ;;
  --loop)
    # the sidecar's PID 1: without a handler SIGTERM is ignored and every pod deletion or
    # roll waits out terminationGracePeriodSeconds; the sleep runs in the background so
    # the signal ends the wait at once
    trap 'exit 0' TERM INT
    while true; do
      (configure_once) || log "will retry in ${LOOP_INTERVAL}s"
      export DESTATE_QUIET=1 # after the first round, report only what changes
      sleep "$LOOP_INTERVAL" &
      wait $!
    done
    ;;
  *) die "usage: configure-replication.sh [--loop] (got '$1')" ;;
esac

#!/bin/bash
# Stand-in for the official `mariadb` image's docker-entrypoint.sh, on Debian's MariaDB.
# It implements the documented contract the destate charts rely on and nothing more
# (tools/images/README.md lists it):
#   - a first argument starting with '-' means: mariadbd with these options;
#   - for mariadbd, an empty data directory (no mysql/ inside) is initialised first:
#     mariadb-install-db, then a temporary server on the unix socket only, which
#       sets the root password from MARIADB_ROOT_PASSWORD / MARIADB_ROOT_PASSWORD_FILE
#       (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD) for root@localhost and
#       root@MARIADB_ROOT_HOST (default '%'), without writing the binary log,
#       loads the time zone tables (unless MARIADB_INITDB_SKIP_TZINFO is set),
#       creates MARIADB_DATABASE, and MARIADB_USER with MARIADB_PASSWORD(_FILE)
#       (all privileges on MARIADB_DATABASE), and
#       runs /docker-entrypoint-initdb.d/* in name order (*.sh sourced, or run when
#       executable; *.sql, *.sql.gz, *.sql.xz, *.sql.zst fed to the client);
#     then the temporary server stops;
#   - MYSQL_* names are accepted for every MARIADB_* variable, as the official image does;
#   - finally it execs the command (mariadbd and the given arguments).
# It never switches users: it runs as whatever uid the pod gives it (999 in the charts).
set -eo pipefail
shopt -s nullglob

log() { echo "$(date -u '+%F %T') [Entrypoint]: $*"; }
die() { log "error: $*" >&2; exit 1; }

# env_or_file NAME: NAME from MARIADB_NAME, MYSQL_NAME, or the file in MARIADB_NAME_FILE /
# MYSQL_NAME_FILE (setting both a value and a file is an error, as in the official image).
env_or_file() {
  local name=$1 value="" file="" var
  for var in "MARIADB_$name" "MYSQL_$name"; do
    if [ -z "$value" ] && [ -n "${!var:-}" ]; then value=${!var}; fi
    local fvar="${var}_FILE"
    if [ -z "$file" ] && [ -n "${!fvar:-}" ]; then file=${!fvar}; fi
  done
  if [ -n "$value" ] && [ -n "$file" ]; then
    die "both MARIADB_$name and MARIADB_${name}_FILE are set (they are exclusive)"
  fi
  if [ -n "$file" ]; then
    [ -r "$file" ] || die "MARIADB_${name}_FILE: cannot read $file"
    value=$(<"$file")
  fi
  printf '%s' "$value"
}

# sql_string TEXT: TEXT as a single-quoted SQL literal.
sql_string() {
  local s=${1//\\/\\\\}
  printf "'%s'" "${s//\'/\\\'}"
}

if [ "${1:0:1}" = '-' ]; then
  set -- mariadbd "$@"
fi

case ${1:-} in
  mariadbd | mysqld) ;;
  *) exec "$@" ;;
esac
for arg in "${@:2}"; do
  case $arg in
    -'?' | --help | --print-defaults | -V | --version) exec "$@" ;;
  esac
done

# the server's own view of its data directory and socket (config files and arguments)
# server_setting KEY COMMAND...: KEY as COMMAND --verbose --help reports it
server_setting() {
  local key=$1
  shift
  # only the table of values after the "Variables" header: option texts mention keys too
  "$@" --verbose --help 2>/dev/null |
    awk -v key="$key" '/^Variables \(--variable-name=value\)/ { vars = 1 } vars && $1 == key { print $2; exit }'
}
datadir=$(server_setting datadir "$@")
socket=$(server_setting socket "$@")
[ -n "$datadir" ] || die "could not read datadir from '$*' --verbose --help"
datadir=${datadir%/}

if [ ! -d "$datadir/mysql" ]; then
  root_password=$(env_or_file ROOT_PASSWORD)
  allow_empty=${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-${MYSQL_ALLOW_EMPTY_PASSWORD:-}}
  if [ -z "$root_password" ] && [ -z "$allow_empty" ]; then
    die "the data directory $datadir is empty and no root password is given: set MARIADB_ROOT_PASSWORD, MARIADB_ROOT_PASSWORD_FILE or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"
  fi
  database=$(env_or_file DATABASE)
  user=$(env_or_file USER)
  password=$(env_or_file PASSWORD)
  root_host=${MARIADB_ROOT_HOST:-${MYSQL_ROOT_HOST:-%}}
  if [ -n "$user" ] && [ "$user" = root ]; then
    die "MARIADB_USER=root: the root user is set up by MARIADB_ROOT_PASSWORD"
  fi
  if [ -n "$user" ] && [ -z "$password" ]; then
    die "MARIADB_USER is set without MARIADB_PASSWORD or MARIADB_PASSWORD_FILE"
  fi

  log "initialising the empty data directory $datadir"
  # the given options first: the bootstrap's own (no binary log) win over them
  mariadb-install-db "${@:2}" --datadir="$datadir" --rpm --auth-root-authentication-method=normal \
    --skip-test-db --default-time-zone=SYSTEM --enforce-storage-engine= --skip-log-bin \
    --expire-logs-days=0 --loose-innodb_buffer_pool_load_at_startup=0 \
    --loose-innodb_buffer_pool_dump_at_shutdown=0 >/dev/null

  log "starting a temporary server (unix socket only)"
  "$@" --skip-networking --default-time-zone=SYSTEM --socket="$socket" --wsrep_on=OFF \
    --expire-logs-days=0 --skip-slave-start --loose-innodb_buffer_pool_load_at_startup=0 &
  temp_pid=$!
  client=(mariadb --protocol=socket --socket="$socket" -uroot --database=mysql)
  for _ in $(seq 60); do
    if "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1; then break; fi
    kill -0 "$temp_pid" 2>/dev/null || die "the temporary server exited during initialisation"
    sleep 1
  done
  "${client[@]}" -e 'SELECT 1' >/dev/null || die "the temporary server did not answer within 60s"

  if [ -z "${MARIADB_INITDB_SKIP_TZINFO:-${MYSQL_INITDB_SKIP_TZINFO:-}}" ] && [ -d /usr/share/zoneinfo ]; then
    { echo "SET @@SESSION.SQL_LOG_BIN=0;"; mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null; } |
      "${client[@]}"
  fi

  # root's accounts are local to each server: never written to the binary log
  root_sql="SET @@SESSION.SQL_LOG_BIN=0;
    DELETE FROM mysql.global_priv WHERE user = '' OR (user = 'root' AND host NOT IN ('localhost'));
    SET PASSWORD FOR 'root'@'localhost' = PASSWORD($(sql_string "$root_password"));"
  if [ "$root_host" != localhost ]; then
    root_sql+="
    CREATE USER 'root'@$(sql_string "$root_host") IDENTIFIED BY $(sql_string "$root_password");
    GRANT ALL ON *.* TO 'root'@$(sql_string "$root_host") WITH GRANT OPTION;
    GRANT PROXY ON ''@'%' TO 'root'@$(sql_string "$root_host") WITH GRANT OPTION;"
  fi
  root_sql+="
    FLUSH PRIVILEGES;"
  printf '%s\n' "$root_sql" | "${client[@]}"
  export MYSQL_PWD=$root_password # never on a command line, where ps shows it

  if [ -n "$database" ]; then
    log "creating database $database"
    echo "CREATE DATABASE IF NOT EXISTS \`${database//\`/\`\`}\`;" | "${client[@]}"
  fi
  if [ -n "$user" ]; then
    log "creating user $user"
    user_sql="CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$password");"
    if [ -n "$database" ]; then
      user_sql+=" GRANT ALL ON \`${database//\`/\`\`}\`.* TO $(sql_string "$user")@'%';"
    fi
    printf '%s\n' "$user_sql" | "${client[@]}"
  fi

  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sh)
        if [ -x "$f" ]; then log "running $f"; "$f"; else log "sourcing $f"; . "$f"; fi
        ;;
      *.sql) log "running $f"; "${client[@]}" <"$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | "${client[@]}" ;;
      *.sql.xz) log "running $f"; xzcat "$f" | "${client[@]}" ;;
      *.sql.zst) log "running $f"; zstd -dc "$f" | "${client[@]}" ;;
      *) log "ignoring $f" ;;
    esac
  done
  unset MYSQL_PWD

  kill "$temp_pid"
  wait "$temp_pid" || die "the temporary server did not stop cleanly"
  log "initialisation done; starting the server"
fi

exec "$@"

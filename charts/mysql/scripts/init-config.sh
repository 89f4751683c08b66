#!/bin/bash
# init-config.sh — init container of the mysql chart: lays this pod's config over the server's.
#
# Chooses the role from POD_ORDINAL (PRIMARY_ORDINAL, default 0, is the primary; every other
# ordinal is a read-only replica) and writes into CONFIG_DEST (an emptyDir the server includes):
#   00-destate-server.cnf   server-id = SERVER_ID_BASE + POD_ORDINAL, report_host = POD_FQDN,
#                           datadir = DATA_DIR (the claim's mount), GTID settings of MYSQL_FLAVOR
#   10-destate-role.cnf     CONFIG_SRC's primary.cnf or replica.cnf (a built-in default when
#                           CONFIG_SRC has none)
#   50-<name>.cnf           each other *.cnf file of CONFIG_SRC (the user's config.files), laid
#                           over last so the user's values win; other files (e.g. certificates
#                           from config.secrets) are copied unchanged.
# Idempotent: CONFIG_DEST's *.cnf files are rewritten on every run.
#
# Env (see common.sh for defaults): POD_NAME, POD_ORDINAL, HEADLESS_SERVICE, POD_NAMESPACE,
#   CLUSTER_DOMAIN, POD_FQDN, PRIMARY_ORDINAL, MYSQL_FLAVOR, SERVER_ID_BASE, CONFIG_SRC,
#   CONFIG_DEST, DATA_DIR. Needs no server and no password.
# Usage: init-config.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$here/common.sh"

# POD_FQDN goes into a .cnf line: a DNS name, nothing that could start another line or option
case $POD_FQDN in
  '' | *[!A-Za-z0-9.-]*) die "POD_FQDN must be a DNS name of letters, digits, . and - (got '$POD_FQDN'): check topology.clusterDomain" ;;
esac

# so does DATA_DIR (persistence.mountPath): without the line the server would keep the
# image's /var/lib/mysql, outside the claim
case $DATA_DIR in
  /*[!A-Za-z0-9._/-]* | [!/]* | '') die "DATA_DIR must be an absolute path of letters, digits and ._/- (got '$DATA_DIR'): check persistence.mountPath" ;;
esac

mkdir -p "$CONFIG_DEST"
rm -f "$CONFIG_DEST"/*.cnf

{
  echo "# written by init-config.sh for $POD_NAME (ordinal $POD_ORDINAL, $ROLE)"
  echo "[mysqld]"
  echo "server-id = $SERVER_ID"
  echo "report_host = $POD_FQDN"
  echo "datadir = $DATA_DIR"
  if [ "$MYSQL_FLAVOR" = mysql ]; then
    echo "gtid_mode = ON"
    echo "enforce_gtid_consistency = ON"
  else
    echo "gtid_strict_mode = ON"
  fi
} >"$CONFIG_DEST/00-destate-server.cnf"

default_role_file() {
  echo "# built-in $1 defaults of init-config.sh (CONFIG_SRC has no $1.cnf)"
  echo "[mysqld]"
  echo "log_bin = mysql-bin"
  echo "binlog_format = ROW"
  echo "relay_log = relay-bin"
  if [ "$1" = primary ]; then
    echo "read_only = OFF"
  else
    echo "read_only = ON"
    if [ "$MYSQL_FLAVOR" = mysql ]; then echo "log_replica_updates = ON"; else echo "log_slave_updates = ON"; fi
  fi
}

role_src=""
users=()
IFS=: read -r -a src_dirs <<<"$CONFIG_SRC"
for dir in "${src_dirs[@]}"; do
  [ -d "$dir" ] || continue
  for f in "$dir"/*; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    case $name in
      primary.cnf | replica.cnf)
        if [ "$name" = "$ROLE.cnf" ]; then role_src=$f; fi
        ;;
      *.sh) ;;
      *) users+=("$f") ;;
    esac
  done
done

if [ -n "$role_src" ]; then
  { echo "# from $role_src"; cat "$role_src"; } >"$CONFIG_DEST/10-destate-role.cnf"
else
  default_role_file "$ROLE" >"$CONFIG_DEST/10-destate-role.cnf"
fi

for f in "${users[@]+"${users[@]}"}"; do
  name=$(basename "$f")
  case $name in
    *.cnf) cp -L "$f" "$CONFIG_DEST/50-$name" ;;
    *) cp -L "$f" "$CONFIG_DEST/$name" ;;
  esac
done

log "role $ROLE, server-id $SERVER_ID, config in $CONFIG_DEST: $(cd "$CONFIG_DEST" && echo *)"

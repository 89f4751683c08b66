# Config step of the redis chart (POSIX sh, runs in the redis image before redis-server).
# Builds CONFIG_DEST/redis.conf from: the chart's base settings, the password (requirepass
# and masterauth; read from a file, never on a command line), the role of this pod by
# its ordinal (replicas: replicaof PRIMARY_HOST), then the user's config.files.
set -eu
umask 077
pw=$(cat /destate/redis-password/password)
case $pw in
  '' | *[!A-Za-z0-9._~+=@%:,!-]*)
    echo "init-config: the password must be non-empty and hold only letters, digits and ._~+=@%:,!- (no quotes, spaces or backslashes)" >&2
    exit 1
    ;;
esac
conf="$CONFIG_DEST/redis.conf"
{
  echo "# written by init-config.sh for $POD_NAME (ordinal $POD_ORDINAL)"
  echo "port 6379"
  echo "dir $DATA_DIR"
  echo "appendonly yes"
  echo "protected-mode yes"
  printf 'requirepass "%s"\nmasterauth "%s"\n' "$pw" "$pw"
  if [ "$POD_ORDINAL" != "$PRIMARY_ORDINAL" ]; then
    echo "replicaof $PRIMARY_HOST 6379"
    echo "replica-read-only yes"
  fi
  if [ -d /destate/config-src/user ]; then
    for f in /destate/config-src/user/*; do
      [ -f "$f" ] || continue
      echo "# from config.files: ${f##*/}"
      cat "$f"
      echo
    done
  fi
} >"$conf"
echo "init-config: $conf written (role: $([ "$POD_ORDINAL" = "$PRIMARY_ORDINAL" ] && echo primary || echo replica))"

#!/bin/sh
# Stand-in for the official `redis` image's docker-entrypoint.sh, on Debian's redis-server.
# The documented contract, and nothing more (tools/images/README.md):
#   - a first argument starting with '-' or ending in '.conf' means: redis-server with it;
#   - with the default umask 0022 it sets 0077 (data files readable by the server only);
#   - then it execs the command. It never switches users: it runs as the pod's uid.
set -e
case ${1:-} in
  -* | *.conf) set -- redis-server "$@" ;;
esac
if [ "$(umask)" = 0022 ]; then
  umask 0077
fi
exec "$@"

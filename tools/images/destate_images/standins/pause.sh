#!/bin/sh
# Sandbox (pause) process of the local node: holds the pod's namespaces and exits on
# SIGTERM or SIGINT (as PID 1 it would otherwise ignore them).
trap 'exit 0' TERM INT
while :; do
  sleep 3600 &
  wait $!
done

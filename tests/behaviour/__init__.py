"""Behaviour tests: the scripts and configs our charts render, run against real servers on
loopback (MariaDB replication, Envoy gRPC balancing, Redis sessions, config overlay)."""

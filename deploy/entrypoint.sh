#!/bin/sh
# Every app container starts through here: the per-process Prometheus directory must exist and
# must not hold files of a previous run (a restarted container reuses pids, so stale files would
# be summed into the new process's counters).
set -eu
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    rm -f "$PROMETHEUS_MULTIPROC_DIR"/*.db
fi
exec "$@"

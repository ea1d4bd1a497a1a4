#!/bin/sh
# Container entrypoint: start from an empty prometheus-client multiprocess directory.
# An emptyDir survives a container restart inside the pod, and a new worker may get a
# dead one's pid: stale files would be summed into /metrics as if they were live.
set -eu
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  find "$PROMETHEUS_MULTIPROC_DIR" -mindepth 1 -delete
fi
exec "$@"

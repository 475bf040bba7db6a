#!/usr/bin/env bash
# `make run`: the whole development platform (emulator, API, clock, and a worker with REDIS_URL)
# supervised by scripts/run.py in the foreground; Ctrl-C stops all of it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
exec "$VENV/bin/python" scripts/run.py "$@"

#!/usr/bin/env bash
# `make run`: migrate, load the plans, then serve the WeChat emulator and the API (gunicorn)
# on the embedded default (SQLite, jobs inline), gunicorn with the production settings file. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export FLASK_APP=wsgi APP_ENV=${APP_ENV:-development}
PORT=${PORT:-8000}
EMULATOR_PORT=${EMULATOR_PORT:-8001}
export PORT EMULATOR_PORT
mkdir -p instance

"$VENV/bin/flask" db upgrade
"$VENV/bin/flask" plans load

"$VENV/bin/python" -m wechat.emulator --host 127.0.0.1 --port "$EMULATOR_PORT" --keys-dir instance/wechat-keys &
EMULATOR_PID=$!
# deploy/gunicorn.conf.py sets limit_request_line 8190 (gunicorn's maximum): URLs up to that length reach
# the app, which answers an over-long one (MAX_URL_LENGTH) with 414 in the JSON envelope.
"$VENV/bin/gunicorn" --config deploy/gunicorn.conf.py --bind "127.0.0.1:$PORT" --workers 2 --threads 4 wsgi:app &
API_PID=$!

stop() { kill "$API_PID" "$EMULATOR_PID" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT

echo
echo "  API:             http://127.0.0.1:$PORT/api/v1/plans"
echo "  OpenAPI:         http://127.0.0.1:$PORT/api/v1/openapi.json"
echo "  WeChat emulator: http://127.0.0.1:$EMULATOR_PORT/"
echo "  Ctrl-C stops both."
echo
wait -n "$API_PID" "$EMULATOR_PID"

#!/usr/bin/env bash
# PgBouncer in transaction mode in front of PostgreSQL, for the API and the workers.
#
#   scripts/pgbouncer.sh start   # installs the Debian package when missing, writes the config, starts it
#   scripts/pgbouncer.sh stop
#
# Then point DATABASE_URL at it: postgresql://USER@127.0.0.1:$PGBOUNCER_PORT/DBNAME
#
# Environment (defaults in brackets):
#   PGBOUNCER_PORT [6432]          where PgBouncer listens (127.0.0.1)
#   PGBOUNCER_DIR  [/tmp/yiqi-pgbouncer-$PGBOUNCER_PORT]  config, pid file, log, socket
#   UPSTREAM_HOST [127.0.0.1] UPSTREAM_PORT [5432]        PostgreSQL
#   PGBOUNCER_USER [postgres]      the database user clients log in as (listed in the auth file)
#   PGBOUNCER_PASSWORD []          its password; empty: trust (a development machine only)
#   PGBOUNCER_POOL_SIZE [20]       server connections per database/user pair
#   PGBOUNCER_MAX_CLIENTS [1000]   client connections accepted (gunicorn workers × threads × hosts, RQ workers)
#
# Transaction pooling: a server connection belongs to a client for one transaction only. The app keeps
# no session state across transactions (grep: no session-level SET, advisory lock, LISTEN or WITH HOLD
# cursor; statement timeouts are SET LOCAL) and psycopg2 sends no server-side prepared statements.
set -euo pipefail

PORT="${PGBOUNCER_PORT:-6432}"
DIR="${PGBOUNCER_DIR:-/tmp/yiqi-pgbouncer-$PORT}"
UPSTREAM_HOST="${UPSTREAM_HOST:-127.0.0.1}"
UPSTREAM_PORT="${UPSTREAM_PORT:-5432}"
DB_USER="${PGBOUNCER_USER:-postgres}"
PASSWORD="${PGBOUNCER_PASSWORD:-}"
POOL_SIZE="${PGBOUNCER_POOL_SIZE:-20}"
MAX_CLIENTS="${PGBOUNCER_MAX_CLIENTS:-1000}"

install_if_missing() {
  if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    echo "installing the Debian package pgbouncer" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y pgbouncer >/dev/null; }
    # The package's own service is not ours: this script runs its own instance.
  fi
}

binary() { command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer; }

write_config() {
  mkdir -p "$DIR"
  if [ -n "$PASSWORD" ]; then auth_type=scram-sha-256; else auth_type=trust; fi
  printf '"%s" "%s"\n' "$DB_USER" "$PASSWORD" > "$DIR/userlist.txt"
  cat > "$DIR/pgbouncer.ini" <<INI
[databases]
* = host=$UPSTREAM_HOST port=$UPSTREAM_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir = $DIR
auth_type = $auth_type
auth_file = $DIR/userlist.txt
pool_mode = transaction
default_pool_size = $POOL_SIZE
reserve_pool_size = 5
max_client_conn = $MAX_CLIENTS
admin_users = $DB_USER
stats_users = $DB_USER
; the server connection is reset between clients; nothing survives a transaction in transaction mode
server_reset_query = DISCARD ALL
server_reset_query_always = 0
; psycopg2 sends none of these, JDBC and some tools do
ignore_startup_parameters = extra_float_digits
pidfile = $DIR/pgbouncer.pid
logfile = $DIR/pgbouncer.log
INI
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$DIR"; fi
}

start() {
  install_if_missing
  if [ -f "$DIR/pgbouncer.pid" ] && kill -0 "$(cat "$DIR/pgbouncer.pid")" 2>/dev/null; then
    echo "pgbouncer already running on port $PORT (pid $(cat "$DIR/pgbouncer.pid"))"
    return 0
  fi
  write_config
  # PgBouncer refuses to run as root: as root, run it as the postgres system user.
  if [ "$(id -u)" = 0 ]; then as_user=(-u postgres); else as_user=(); fi
  "$(binary)" -d "${as_user[@]}" "$DIR/pgbouncer.ini"
  for _ in $(seq 1 50); do
    if pg_isready -h 127.0.0.1 -p "$PORT" -q 2>/dev/null; then
      echo "pgbouncer listening on 127.0.0.1:$PORT (pid $(cat "$DIR/pgbouncer.pid"), transaction pooling)"
      return 0
    fi
    sleep 0.1
  done
  echo "pgbouncer did not start; its log:" >&2
  tail -20 "$DIR/pgbouncer.log" >&2 || true
  return 1
}

stop() {
  if [ -f "$DIR/pgbouncer.pid" ]; then
    pid="$(cat "$DIR/pgbouncer.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$DIR/pgbouncer.pid"
  fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

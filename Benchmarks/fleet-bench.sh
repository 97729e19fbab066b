#!/usr/bin/env bash
# The fleet ingest benchmark: a throwaway PostgreSQL cluster (default durability: fsync on) and mosquitto
# on loopback, then .build/release/fleet-bench (PostgreSQL with 1 and 3 workers beside SQLite). Prints JSON.
#   Benchmarks/fleet-bench.sh [--devices N] [--hours H]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-.build/release}
[ -x "$bin/fleet-bench" ] || swift build -c release --product fleet-bench >&2
work=$(mktemp -d /tmp/fleet-bench-XXXXXX)
chmod 755 "$work"
. scripts/lib/postgres.sh
broker_pid=""
cleanup() {
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null || true
  pg_cluster_stop
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
PG_EXTRA_SETTINGS="shared_buffers = 256MB
max_wal_size = 2GB" pg_cluster_start "$work/pg"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root"
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n%s\n' "$port" "$user_line" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
broker_pid=$!
sleep 0.5
"$bin/fleet-bench" --postgres "postgresql://postgres@127.0.0.1:$pg_port" --broker-port "$port" "$@"

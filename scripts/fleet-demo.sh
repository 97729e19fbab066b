#!/usr/bin/env bash
# The fleet demo: a throwaway PostgreSQL cluster, mosquitto, three head-end workers in one MQTT v5
# shared-subscription group writing to that one database, and a simulated fleet of concentrators
# (fleet-sim) sending real sealed, signed hourly batches. Ctrl-C stops everything and removes it all.
#
#   scripts/fleet-demo.sh [--devices N] [--meters M] [--hours H] [--pace SECONDS] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
devices=50 meters=16 hours=48 pace=2 keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --devices) devices=$2; shift 2 ;;
    --meters) meters=$2; shift 2 ;;
    --hours) hours=$2; shift 2 ;;
    --pace) pace=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: scripts/fleet-demo.sh [--devices N] [--meters M] [--hours H] [--pace SECONDS] [--keep]" >&2; exit 64 ;;
  esac
done

scripts/install-deps.sh
echo "building (the first build takes several minutes)…"
# One product per command: given several --product options, swift build builds only the last one.
for product in headend fleet-sim; do swift build --product "$product" 2>&1 | grep -E "error|Build complete" || true; done
bin=$(swift build --show-bin-path)

work=$(mktemp -d /tmp/fleet-demo-XXXXXX)
chmod 755 "$work"
. scripts/lib/chain.sh
. scripts/lib/postgres.sh
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pg_cluster_stop
  if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "kept $work (the database is gone with the cluster)"; fi
}
trap cleanup EXIT INT TERM

pg_cluster_start "$work/pg"
database=$(pg_createdb headend | tail -1)
chain_broker
chain_headend_keys
sealing_key=$(ls "$work"/headend-keys/sealing-*.key); ack_key=$(ls "$work"/headend-keys/ack-*.key)
# The dashboard, served by worker 1, with one operator account made for the demo.
web_port=$(( 20000 + RANDOM % 20000 ))
head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/dashboard-password"
chmod 600 "$work/dashboard-password"
"$bin/headend" users add --database "$database" --dashboard-database "$work/dashboard.sqlite" --name demo --role operator \
  --password-file "$work/dashboard-password" >/dev/null
for i in 1 2 3; do
  web=()
  [ "$i" = 1 ] && web=(--web "127.0.0.1:$web_port" --dashboard-database "$work/dashboard.sqlite")
  cat >"$work/worker-$i.json" <<JSON
{"broker": {"host": "127.0.0.1", "port": $port, "clientId": "headend-worker-$i"},
 "sharedSubscriptionGroup": "headends",
 "database": "$database",
 "keys": {"sealing": ["$sealing_key"], "ack": "$ack_key"}}
JSON
  "$bin/headend" run --config "$work/worker-$i.json" "${web[@]}" 2>"$work/worker-$i.log" &
  pids+=($!)
done
for i in 1 2 3; do
  for _ in $(seq 1 100); do grep -q "subscribed to" "$work/worker-$i.log" 2>/dev/null && break; sleep 0.2; done
done
"$bin/fleet-sim" --port "$port" --headend-keys "$work/headend-keys" --devices "$devices" --meters "$meters" --hours "$hours" \
  --pace "$pace" --register "$database" >"$work/fleet-sim.out" 2>"$work/fleet-sim.log" &
pids+=($!)

cat <<TEXT

fleet demo: $devices simulated concentrators × $meters meters → mosquitto (127.0.0.1:$port) → 3 head-end workers → PostgreSQL
  database   $database        (psql "$database")
  workers    $work/worker-{1,2,3}.log   (shared subscription group "headends")
  fleet      $work/fleet-sim.out        (one JSON progress line a second)
  status     $bin/headend status --database "$database"
  export     $bin/headend export --database "$database" --device sim-00001 --from 2000-01-01 --to 2100-01-01 --format csv
  try        kill -9 a worker (pgrep -f worker-2.json), or pg_ctl restart: nothing is lost, the fleet resends what has no ack
  dashboard  http://127.0.0.1:$web_port/   (account demo, password: $(cat "$work/dashboard-password"); served by worker 1)
Ctrl-C stops everything.

TEXT
while true; do
  sleep 5
  line=$(tail -1 "$work/fleet-sim.out" 2>/dev/null || true)
  stored=$("$bin/headend" status --json --database "$database" 2>/dev/null \
    | python3 -c 'import json,sys; d=json.load(sys.stdin)["devices"]; print(sum(x["batches"] for x in d), "batches,", sum(x["values"] for x in d), "values,", sum(x["missingSequences"] for x in d), "missing")' 2>/dev/null || echo "?")
  echo "$(date +%T)  stored: $stored   fleet: ${line:-starting}"
done

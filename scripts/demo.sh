#!/usr/bin/env bash
# The demo: 64 simulated meters on one RS-485 bus (a PTY at 9600 8N1), the agent archiving them and
# sending sealed, signed batches over a local mosquitto broker to the reference head-end, which
# stores them and acknowledges each. The agent's clock runs 60× (one hour per minute), so an hourly
# snapshot arrives every minute. A dashboard shows the data flowing; Ctrl-C stops everything.
#
#   scripts/demo.sh [--duration SECONDS] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=0
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: scripts/demo.sh [--duration SECONDS] [--keep]" >&2; exit 64 ;;
  esac
done

scripts/install-deps.sh
echo "building (first build takes a few minutes)…"
swift build 2>&1 | grep -E "error|warning: unre|Compiling|Build complete" | grep -v Compiling || true
bin=$(swift build --show-bin-path)

work=/tmp/concentrator-demo
rm -rf "$work"
mkdir -p "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user_line=""; [ "$(id -u)" = 0 ] && user_line="user root"
cat >"$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
$user_line
CONF
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
pids+=($!)

# The head-end: its keys, its configuration.
"$bin/headend" keys generate --dir "$work/headend-keys" >"$work/headend-keys.txt"
sealing_key=$(ls "$work"/headend-keys/sealing-*.key); ack_key=$(ls "$work"/headend-keys/ack-*.key)
sealing_pub=$(ls "$work"/headend-keys/sealing-*.pub.json); ack_pub=$(ls "$work"/headend-keys/ack-*.pub.json)
cat >"$work/headend.json" <<JSON
{"broker": {"host": "127.0.0.1", "port": $port, "clientId": "headend-demo"},
 "database": "$work/headend.sqlite",
 "keys": {"sealing": ["$sealing_key"], "ack": "$ack_key"}}
JSON

# 64 meters of five models on one simulated line.
"$bin/meter-sim" --link "$work/bus1" --baud 9600 --turnaround 20-60 --profiles Profiles \
  --meters 1-13:eastron-sdm630 --meters 14-26:abb-b23 --meters 27-39:carlo-gavazzi-em24 \
  --meters 40-52:finder-7m --meters 53-64:eastron-sdm120 --control "$work/bus1.ctl" >"$work/meter-sim.out" 2>"$work/meter-sim.log" &
pids+=($!)
for _ in $(seq 1 50); do [ -e "$work/bus1" ] && break; sleep 0.1; done

# The agent's configuration: the bus, the meters, the uplink to the broker and the head-end's keys.
python3 - "$work" "$port" "$sealing_pub" "$ack_pub" <<'PY'
import json, sys
work, port, sealing, ack = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def profile(a):
    return ("eastron-sdm630" if a <= 13 else "abb-b23" if a <= 26 else "carlo-gavazzi-em24" if a <= 39
            else "finder-7m" if a <= 52 else "eastron-sdm120")
config = {
    "device": {"id": "demo-gw", "stateDirectory": f"{work}/state", "runtimeDirectory": f"{work}/run"},
    "buses": [{"name": "bus1", "device": f"{work}/bus1", "baud": 9600}],
    "meters": [{"id": f"m{a:02d}", "bus": "bus1", "address": a, "profile": profile(a)} for a in range(1, 65)],
    "archive": {"intervalMinutes": 60, "retentionDays": 45},
    "uplink": {"broker": {"host": "127.0.0.1", "port": port}, "headEndKeys": [sealing, ack]},
}
json.dump(config, open(f"{work}/config.json", "w"), indent=2)
PY
"$bin/concentrator" config check "$work/config.json"
"$bin/concentrator" keys show --documents --config "$work/config.json" >"$work/device-keys.json"
"$bin/headend" devices add --id demo-gw --key "$work/device-keys.json" --config "$work/headend.json" >/dev/null

"$bin/headend" run --config "$work/headend.json" 2>"$work/headend.log" &
pids+=($!)
# Start the virtual clock 5 seconds before the next full hour, so the first snapshot starts at once.
origin=$(python3 -c 'import time; t=int(time.time()); print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t - t % 3600 + 3600 - 5)))')
"$bin/concentrator" run --config "$work/config.json" --clock-origin "$origin" --clock-rate 60 2>"$work/agent.log" &
pids+=($!)

started=$(date +%s)
while true; do
  sleep 3
  agent_status=$("$bin/concentrator" status --json --config "$work/config.json" 2>/dev/null || true)
  headend_status=$("$bin/headend" status --json --config "$work/headend.json" 2>/dev/null || true)
  python3 - "$agent_status" "$headend_status" "$bin" "$work" <<'PY'
import json, subprocess, sys, time
agent_text, headend_text, bin, work = sys.argv[1:5]
def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000)) if isinstance(ms, (int, float)) else str(ms)
print("\033[H\033[2J", end="")
print("concentrator demo: 64 simulated meters on RS-485 (9600 8N1), agent → mosquitto → head-end")
print("virtual clock 60× real time: one hourly snapshot a minute.  Ctrl-C stops.  Logs:", work)
print()
try:
    a = json.loads(agent_text)
    bus = a["buses"][0]
    answering = sum(m["state"] in ("online", "degraded") for m in bus["meters"])
    print(f"agent    virtual time {iso(a['now'])}  meters answering {answering}/{len(bus['meters'])}")
    c = bus.get("lastCycle")
    if c:
        print(f"         last snapshot {iso(c['intervalStart'])}: {c['answered']}/{c['meters']} meters, {c['values']} values in {c['durationMilliseconds']/1000:.1f} s")
    else:
        print("         first snapshot in progress (64 meters at 9600 baud take about 25 s)…")
    u = a.get("uplink") or {}
    print(f"         uplink {'connected' if u.get('connected') else 'not connected'}, outbox {u.get('outboxDepth', '?')} batches waiting for an ack")
except Exception:
    print("agent    starting…")
try:
    h = json.loads(headend_text)
    d = h[0] if isinstance(h, list) else h.get("devices", [{}])[0]
    print(f"head-end device {d.get('device')}: {d.get('batches')} batches, {d.get('values')} values stored, last seen {d.get('lastSeen')}, missing sequences {d.get('missingSequences')}")
except Exception:
    print("head-end waiting for the first batch…")
try:
    csv = subprocess.run([f"{bin}/headend", "export", "--device", "demo-gw", "--from", "2000-01-01", "--to", "2100-01-01",
                          "--format", "csv", "--config", f"{work}/headend.json"], capture_output=True, text=True).stdout.splitlines()
    rows = [r.split(",") for r in csv[1:]]
    if rows:
        latest = max(r[0] for r in rows)
        want = {"active_energy_import": "energy kWh", "active_power_total": "power W", "voltage_l1": "V L1"}
        table = {}
        for r in rows:
            if r[0] == latest and r[3] in want: table.setdefault(r[2], {})[r[3]] = r[4]
        print()
        print(f"received at the head-end for {latest} (first 8 of {len(table)} meters):")
        print(f"  {'meter':6} {'energy import kWh':>18} {'power W':>10} {'voltage L1 V':>13}")
        for m in sorted(table)[:8]:
            v = table[m]
            print(f"  {m:6} {v.get('active_energy_import',''):>18.18} {v.get('active_power_total',''):>10.10} {v.get('voltage_l1',''):>13.13}")
except Exception as e:
    print("export:", e)
PY
  if [ "$duration" -gt 0 ] && [ $(( $(date +%s) - started )) -ge "$duration" ]; then break; fi
done

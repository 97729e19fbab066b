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
. scripts/lib/chain.sh
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT INT TERM

chain_broker
chain_headend_keys
# 64 meters of five models on one simulated line at 9600 baud.
chain_meter_sim 9600 20-60 --meters 1-13:eastron-sdm630 --meters 14-26:abb-b23 --meters 27-39:carlo-gavazzi-em24 \
  --meters 40-52:finder-7m --meters 53-64:eastron-sdm120
chain_agent_config demo-gw 9600 64
chain_register demo-gw
chain_start_headend
# Start the virtual clock 5 seconds before the next full hour, so the first snapshot starts at once.
origin=$(python3 -c 'import time; t=int(time.time()); print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t - t % 3600 + 3600 - 5)))')
chain_start_agent --clock-origin "$origin" --clock-rate 60

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

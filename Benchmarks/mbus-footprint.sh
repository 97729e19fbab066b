#!/usr/bin/env bash
# Resident memory of one agent with a wireless M-Bus receiver hearing 10 telegrams a second and two
# wired M-Bus buses of 20 heat meters each (issue 15's footprint; target ≤16 MB). meter-sim serves an
# iM871A stream of 60 meters (30 mode 5, 30 mode 7, each every 6 s) and two 2400 8E1 loops; no
# broker. The agent archives every virtual hour (clock 60×). Prints JSON.
#
#   Benchmarks/mbus-footprint.sh [SECONDS] [BIN_DIR]
#
# BIN_DIR holds concentrator and meter-sim (default .build/release, built here); the shipped binary
# is .build-gateway/concentrator (scripts/build-gateway-binary.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/lib/rss.sh
seconds=${1:-120}
footprint_setup mbus-footprint "${2:-}"
key=5172891040e66d83f8a20b4c3795d12e
key_text=$(python3 -c "import zlib; k=bytes.fromhex('$key'); print(k.hex() + '%08x' % zlib.crc32(k))")

"$bin/meter-sim" --link "$work/radio" --baud 57600 --profiles Profiles --wmbus-id-base 30000000 \
  --wmbus "30:sensus-iperl:mode5:6:$key_text" --wmbus "30:qundis-qcaloric-5:mode7:6:$key_text" >"$work/radio.out" 2>&1 &
for b in 1 2; do
  "$bin/meter-sim" --link "$work/mbus$b" --baud 2400 --parity even --turnaround 5-10 --profiles Profiles \
    --mbus "1-20:kamstrup-multical-403" >"$work/mbus$b.out" 2>&1 &
done
mkdir -p "$work/state/keys/meters"
meters=""
for i in $(seq 0 59); do
  id=$(( 30000000 + i )); p=sensus-iperl; [ $i -ge 30 ] && p=qundis-qcaloric-5
  meters+="${meters:+,}{\"id\":\"w$id\",\"bus\":\"radio\",\"protocol\":\"wmbus\",\"address\":\"$id\",\"profile\":\"$p\"}"
  printf '{"format": "concentrator-meter-key/1", "meter": "w%s", "encryption": "%s"}\n' "$id" "$key" >"$work/state/keys/meters/w$id.json"
  chmod 600 "$work/state/keys/meters/w$id.json"
done
for b in 1 2; do
  for a in $(seq 1 20); do
    meters+=",{\"id\":\"h$b-$a\",\"bus\":\"mbus$b\",\"protocol\":\"mbus\",\"address\":$a,\"profile\":\"kamstrup-multical-403\"}"
  done
done
for _ in $(seq 1 100); do [ -e "$work/radio" ] && [ -e "$work/mbus1" ] && [ -e "$work/mbus2" ] && break; sleep 0.1; done
cat >"$work/agent.json" <<JSON
{"device":{"id":"mbus-footprint","stateDirectory":"$work/state","runtimeDirectory":"$work/run"},
 "buses":[{"name":"radio","device":"$work/radio","baud":57600},
          {"name":"mbus1","device":"$work/mbus1","baud":2400,"parity":"even","responseTimeoutMilliseconds":{"min":200,"max":1000}},
          {"name":"mbus2","device":"$work/mbus2","baud":2400,"parity":"even","responseTimeoutMilliseconds":{"min":200,"max":1000}}],
 "meters":[$meters]}
JSON
"$bin/concentrator" run --config "$work/agent.json" --clock-rate 60 --log-level warning 2>"$work/agent.err" &
agent=$!
sample_rss $agent "$seconds" "$work/agent.err"
status=$("$bin/concentrator" status --json --config "$work/agent.json")
summary=$(printf '%s' "$status" | python3 -c '
import json, sys
s = json.load(sys.stdin)
buses = {b["name"]: b for b in s["buses"]}
ok = lambda b: sum(1 for m in b.get("meters", []) if m.get("lastSuccess"))
print(ok(buses["radio"]), ok(buses["mbus1"]) + ok(buses["mbus2"]), min(buses[n]["cyclesCompleted"] for n in ("mbus1", "mbus2")))')
read -r heard_ok wired_ok cycles <<<"$summary"
rss_kb=$(proc_status_kb $agent VmRSS)
hwm_kb=$(proc_status_kb $agent VmHWM)
threads=$(proc_status_kb $agent Threads)
awk -v w="$heard_ok" -v m="$wired_ok" -v c="$cycles" -v rss="$rss_kb" -v hwm="$hwm_kb" -v settled="$max_settled_kb" -v t="$threads" -v s="$seconds" -v b="$bin" 'BEGIN {
  printf "{\"benchmark\":\"mbus-footprint\",\"binary_dir\":\"%s\",\"wireless_meters\":60,\"telegrams_per_second\":10,\"wired_meters\":40,", b
  printf "\"seconds\":%d,\"wireless_meters_decoded\":%d,\"wired_meters_read\":%d,\"wired_cycles\":%d,", s, w, m, c
  printf "\"rss_mb\":%.2f,\"max_rss_after_60s_mb\":%.2f,\"peak_rss_mb\":%.2f,\"threads\":%d,\"targets\":{\"rss_mb\":16}}\n", rss/1024, settled/1024, hwm/1024, t }'

#!/usr/bin/env bash
# Agent footprint: the stripped static-stdlib binary's size, and the agent's resident memory with
# 4 buses × 64 simulated meters after N snapshot cycles per bus (default 1000). Prints JSON.
#
#   Benchmarks/agent-footprint.sh [CYCLES]
#
# SIM_BIN_DIR=<dir> takes meter-sim from <dir> instead of building it in .build/release (it only
# plays the meters; any recent release build of it will do).
#
# The lines run at 115200 baud with 0–1 ms turnaround and the virtual clock 1440× (an hour every
# 2.5 s): a 64-meter cycle takes about 2 s, so each bus snapshots every virtual hour without overrunning,
# as on a real gateway, only faster. RSS is what matters here, not line timing.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=${1:-1000}
scripts/install-deps.sh
scripts/build-gateway-binary.sh >/dev/null
bin=${SIM_BIN_DIR:-}
if [ -z "$bin" ]; then
  swift build -c release --product meter-sim >/dev/null
  bin=.build/release
fi
work=$(mktemp -d /tmp/footprint-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
agent_binary=.build-gateway/concentrator
binary_bytes=$(stat -c %s "$agent_binary")

mix=(--meters 1-13:eastron-sdm630 --meters 14-26:abb-b23 --meters 27-39:carlo-gavazzi-em24 --meters 40-52:finder-7m --meters 53-64:eastron-sdm120)
buses=""
meters=""
for b in 1 2 3 4; do
  "$bin/meter-sim" --link "$work/bus$b" --baud 115200 --turnaround 0-1 --profiles Profiles "${mix[@]}" >"$work/sim$b.out" 2>"$work/sim$b.err" &
  buses+="${buses:+,}{\"name\":\"bus$b\",\"device\":\"$work/bus$b\",\"baud\":115200,\"responseTimeoutMilliseconds\":{\"min\":20,\"max\":200}}"
  for a in $(seq 1 64); do
    if   [ $a -le 13 ]; then p=eastron-sdm630; elif [ $a -le 26 ]; then p=abb-b23; elif [ $a -le 39 ]; then p=carlo-gavazzi-em24
    elif [ $a -le 52 ]; then p=finder-7m; else p=eastron-sdm120; fi
    meters+="${meters:+,}{\"id\":\"b$b-m$a\",\"bus\":\"bus$b\",\"address\":$a,\"profile\":\"$p\"}"
  done
done
for b in 1 2 3 4; do for _ in $(seq 1 100); do [ -e "$work/bus$b" ] && break; sleep 0.1; done; done
cat >"$work/config.json" <<JSON
{"device":{"id":"footprint","stateDirectory":"$work/state","runtimeDirectory":"$work/run"},
 "buses":[$buses],"meters":[$meters]}
JSON
"$agent_binary" run --config "$work/config.json" --clock-rate 1440 --log-level warning 2>"$work/agent.err" &
agent=$!
start=$(date +%s)
done_cycles=0
max_settled_kb=0   # the highest RSS seen once the first idle-page release is past (60 s after start)
while [ "$done_cycles" -lt "$cycles" ]; do
  sleep 5
  kill -0 $agent || { echo "agent died: $(tail -5 "$work/agent.err")" >&2; exit 1; }
  if [ $(( $(date +%s) - start )) -ge 60 ]; then
    now_kb=$(awk '/VmRSS/ {print $2}' /proc/$agent/status)
    [ "$now_kb" -gt "$max_settled_kb" ] && max_settled_kb=$now_kb
  fi
  done_cycles=$("$agent_binary" status --json --config "$work/config.json" 2>/dev/null \
    | python3 -c 'import json,sys; s=json.load(sys.stdin); print(min(b["cyclesCompleted"] for b in s["buses"]))' || echo 0)
done
rss_kb=$(awk '/VmRSS/ {print $2}' /proc/$agent/status)
hwm_kb=$(awk '/VmHWM/ {print $2}' /proc/$agent/status)
anon_kb=$(awk '/RssAnon/ {print $2}' /proc/$agent/status)
file_kb=$(awk '/RssFile/ {print $2}' /proc/$agent/status)
threads=$(awk '/Threads/ {print $2}' /proc/$agent/status)
elapsed=$(( $(date +%s) - start ))
archive_bytes=$(stat -c %s "$work/state/archive.sqlite")
kill -TERM $agent; wait $agent || true
awk -v c="$done_cycles" -v e="$elapsed" -v rss="$rss_kb" -v hwm="$hwm_kb" -v settled="$max_settled_kb" -v anon="$anon_kb" -v file="$file_kb" -v t="$threads" -v bin="$binary_bytes" -v arc="$archive_bytes" 'BEGIN {
  printf "{\"benchmark\":\"agent-footprint\",\"buses\":4,\"meters\":256,\"cycles_per_bus\":%d,\"elapsed_s\":%d,", c, e
  printf "\"rss_mb\":%.2f,\"rss_anon_mb\":%.2f,\"rss_file_mb\":%.2f,\"max_rss_after_60s_mb\":%.2f,\"peak_rss_mb\":%.2f,", rss/1024, anon/1024, file/1024, settled/1024, hwm/1024
  printf "\"threads\":%d,\"stripped_binary_mb\":%.2f,\"archive_mb\":%.1f,", t, bin/1048576, arc/1048576
  printf "\"targets\":{\"rss_mb\":16,\"binary_mb\":20}}\n" }'

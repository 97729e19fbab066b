#!/usr/bin/env bash
# Resident memory of one agent with the mesh on and 64 simulated meters (Docs/mesh.md, issue 12's
# benchmark; target ≤16 MB). A second agent (no meters) is its UDP neighbour on loopback, so beacons,
# neighbour and route tables are live; neither has a broker. The measured agent snapshots its 64
# meters every virtual hour (clock 1440×). Prints JSON.
#
#   Benchmarks/mesh-footprint.sh [SECONDS] [BIN_DIR]
#
# MESH=off measures the same agent without the mesh section (the baseline).
# BIN_DIR holds concentrator and meter-sim (default .build/release, built here); the shipped binary
# is .build-gateway/concentrator (scripts/build-gateway-binary.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. Benchmarks/lib/rss.sh
seconds=${1:-120}
footprint_setup mesh-footprint "${2:-}"
mix=(--meters 1-13:eastron-sdm630 --meters 14-26:abb-b23 --meters 27-39:carlo-gavazzi-em24 --meters 40-52:finder-7m --meters 53-64:eastron-sdm120)
"$bin/meter-sim" --link "$work/bus1" --baud 115200 --turnaround 0-1 --profiles Profiles "${mix[@]}" >"$work/sim.out" 2>"$work/sim.err" &
meters=""
for a in $(seq 1 64); do
  if   [ $a -le 13 ]; then p=eastron-sdm630; elif [ $a -le 26 ]; then p=abb-b23; elif [ $a -le 39 ]; then p=carlo-gavazzi-em24
  elif [ $a -le 52 ]; then p=finder-7m; else p=eastron-sdm120; fi
  meters+="${meters:+,}{\"id\":\"m$a\",\"bus\":\"bus1\",\"address\":$a,\"profile\":\"$p\"}"
done
for _ in $(seq 1 100); do [ -e "$work/bus1" ] && break; sleep 0.1; done
printf '%s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$work/mesh.key"
chmod 600 "$work/mesh.key"
mesh_off=""; [ "${MESH:-on}" = off ] && mesh_off=1
port_a=$(( 40000 + RANDOM % 10000 )); port_b=$(( port_a + 1 ))
cat >"$work/a.json" <<JSON
{"device":{"id":"mesh-footprint","stateDirectory":"$work/state-a","runtimeDirectory":"$work/run-a"},
 "buses":[{"name":"bus1","device":"$work/bus1","baud":115200,"responseTimeoutMilliseconds":{"min":20,"max":200}}],
 "meters":[$meters]${mesh_off:+\}}
JSON
[ -n "$mesh_off" ] || cat >>"$work/a.json" <<JSON
 ,"mesh":{"networkKeyFile":"$work/mesh.key","beaconIntervalSeconds":2,
         "udp":[{"bindAddress":"127.0.0.1","port":$port_a,"peers":["127.0.0.1:$port_b"]}]}}
JSON
cat >"$work/b.json" <<JSON
{"device":{"id":"mesh-peer","stateDirectory":"$work/state-b","runtimeDirectory":"$work/run-b"},
 "buses":[{"name":"bus1","device":"/dev/null-bus"}],"meters":[],
 "mesh":{"networkKeyFile":"$work/mesh.key","beaconIntervalSeconds":2,
         "udp":[{"bindAddress":"127.0.0.1","port":$port_b,"peers":["127.0.0.1:$port_a"]}]}}
JSON
"$bin/concentrator" run --config "$work/b.json" --log-level warning 2>"$work/b.err" &
"$bin/concentrator" run --config "$work/a.json" --clock-rate 1440 --log-level warning 2>"$work/a.err" &
agent=$!
sample_rss $agent "$seconds" "$work/a.err"
status=$("$bin/concentrator" status --json --config "$work/a.json")
cycles=$(printf '%s' "$status" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(min(b["cyclesCompleted"] for b in s["buses"]))')
neighbours=$(printf '%s' "$status" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(len((s.get("mesh") or {}).get("neighbours", [])))')
rss_kb=$(proc_status_kb $agent VmRSS)
hwm_kb=$(proc_status_kb $agent VmHWM)
threads=$(proc_status_kb $agent Threads)
awk -v c="$cycles" -v n="$neighbours" -v rss="$rss_kb" -v hwm="$hwm_kb" -v settled="$max_settled_kb" -v t="$threads" -v s="$seconds" -v b="$bin" -v m="$([ -n "$mesh_off" ] && echo false || echo true)" 'BEGIN {
  printf "{\"benchmark\":\"mesh-footprint\",\"binary_dir\":\"%s\",\"meters\":64,\"mesh\":%s,\"seconds\":%d,\"cycles\":%d,\"mesh_neighbours\":%d,", b, m, s, c, n
  printf "\"rss_mb\":%.2f,\"max_rss_after_60s_mb\":%.2f,\"peak_rss_mb\":%.2f,\"threads\":%d,\"targets\":{\"rss_mb\":16}}\n", rss/1024, settled/1024, hwm/1024, t }'

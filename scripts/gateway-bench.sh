#!/usr/bin/env bash
# Gateway numbers, as JSON on stdout (progress on stderr); never fails on a number:
#   - the agent's resident memory with 256 simulated meters (4 buses × 64 SDM630 on meter-sim PTYs),
#     after the first full interval snapshot and after 60 s more of polling;
#   - how long that snapshot took per bus, and how long a graceful stop (SIGTERM) takes;
#   - the stripped binary's size, and the .deb's if out/ has one.
#
#   scripts/gateway-bench.sh [bin-dir]     (default: .build/release, else .build/debug)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-}
# The agent under test: the shipped binary (scripts/build-gateway-binary.sh) when it exists.
if [[ -z $bin ]]; then
    bin=$root/.build/release
    [[ -x $bin/concentrator && -x $bin/meter-sim ]] || bin=$root/.build/debug
fi
for tool in concentrator meter-sim; do
    [[ -x $bin/$tool ]] || { echo "gateway-bench: $bin/$tool is missing; build first" >&2; exit 2; }
done
agent_binary=$bin/concentrator
[[ -x $root/.build-gateway/concentrator ]] && agent_binary=$root/.build-gateway/concentrator
work=$(mktemp -d "${TMPDIR:-/tmp}/gateway-bench-XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

buses=""
meters=""
for b in 1 2 3 4; do
    "$bin/meter-sim" --link "$work/bus$b" --baud 38400 --meters 1-64:eastron-sdm630 --turnaround 5-15 \
        --profiles "$root/Profiles" >"$work/sim$b.out" 2>"$work/sim$b.err" &
    pids+=($!)
    buses+="${buses:+, }{\"name\": \"bus$b\", \"device\": \"$work/bus$b\", \"baud\": 38400}"
    for a in $(seq 1 64); do meters+="${meters:+, }{\"id\": \"b${b}m$a\", \"bus\": \"bus$b\", \"address\": $a, \"profile\": \"eastron-sdm630\"}"; done
done
for b in 1 2 3 4; do
    for _ in $(seq 1 100); do [[ -s $work/sim$b.out ]] && break; sleep 0.1; done
done
cat >"$work/config.json" <<CONFIG
{"device": {"id": "bench", "stateDirectory": "$work/state", "runtimeDirectory": "$work/run"},
 "buses": [$buses], "meters": [$meters]}
CONFIG

echo "gateway-bench: agent with 256 meters ($bin)" >&2
"$agent_binary" run --config "$work/config.json" --clock-origin 2026-11-21T10:00:01Z --clock-rate 1 \
    2>"$work/agent.err" &
agent=$!
pids+=($agent)
for _ in $(seq 1 1200); do
    [[ $(grep -c "archived interval" "$work/agent.err" || true) -ge 4 ]] && break
    sleep 0.1
done
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$agent/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$agent/status"; }
rss_after_snapshot=$(rss_kb)
took=$(grep -o 'took_ms=[0-9]*' "$work/agent.err" | cut -d= -f2 | sort -n | tail -1)
echo "gateway-bench: snapshot done; polling 60 s more" >&2
sleep 60
rss_after_minute=$(rss_kb)
hwm=$(hwm_kb)
# Resident memory split: anonymous (heap, stacks) and file-backed (the binary's pages in use).
rss_anon=$(awk '/^RssAnon/ {print $2}' "/proc/$agent/status")
rss_file=$(awk '/^RssFile/ {print $2}' "/proc/$agent/status")
started=$(date +%s%N)
kill -TERM "$agent"
wait "$agent" || true
stop_ms=$(( ($(date +%s%N) - started) / 1000000 ))

# The shipped binary's size (scripts/build-gateway-binary.sh), when it has been built.
stripped=$root/.build-gateway/concentrator
if [[ ! -f $stripped ]]; then
    stripped=$work/concentrator.stripped
    cp "$bin/concentrator" "$stripped"
    strip --strip-unneeded "$stripped"
fi
deb=$(ls -t "$root"/out/concentrator_*.deb 2>/dev/null | head -1 || true)
printf '{"meters": 256, "buses": 4, "rss_kb_after_snapshot": %s, "rss_kb_after_60s": %s, "rss_kb_peak": %s, "rss_anon_kb": %s, "rss_file_kb": %s, "slowest_bus_snapshot_ms": %s, "sigterm_to_exit_ms": %s, "binary_stripped_bytes": %s, "deb_bytes": %s, "agent": "%s"}\n' \
    "${rss_after_snapshot:-null}" "${rss_after_minute:-null}" "${hwm:-null}" "${rss_anon:-null}" "${rss_file:-null}" "${took:-null}" "$stop_ms" \
    "$(stat -c %s "$stripped")" "$( [[ -n $deb ]] && stat -c %s "$deb" || echo null)" "$agent_binary"

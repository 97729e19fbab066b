#!/usr/bin/env bash
# Event latency: from an event queued on the gateway to the head-end's signed ack back at the
# gateway, through a local mosquitto and the reference head-end (release builds), N times. It uses
# the agent's `uplink.check` (`concentrator uplink check`): a one-event batch queued ahead of the
# outbox, sealed, published, verified, opened and stored by the head-end, acked, and the ack verified
# by the agent, which then deletes the entry. Prints JSON. Target: p95 ≤ 2 s on loopback.
#
#   Benchmarks/event-latency.sh [ROUND-TRIPS]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100}
scripts/install-deps.sh
swift build -c release --product concentrator >/dev/null
swift build -c release --product headend >/dev/null
swift build -c release --product meter-sim >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d /tmp/event-latency-XXXXXX)
. scripts/lib/chain.sh
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT

chain_broker
chain_headend_keys
chain_meter_sim 9600 20-60 --meters 1-4:eastron-sdm630
chain_agent_config latency-gw 9600 4
chain_register latency-gw
chain_start_headend
chain_start_agent
sleep 2
"$bin/concentrator" uplink check --count "$count" --json --config "$work/config.json" \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); r.pop("ms"); r["benchmark"]="event-read-to-ack"; r["target_p95_ms"]=2000; print(json.dumps(r))'

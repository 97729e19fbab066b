# Shared by scripts/demo.sh and Benchmarks/event-latency.sh: a local chain of a mosquitto broker, the
# reference head-end, simulated meters and the agent, all in one working directory. Source it after
# setting: bin (the build's bin directory) and work (an empty directory). Every started process is
# appended to the `pids` array; the caller kills them on exit.

pids=()

# chain_broker: mosquitto on a free loopback port; sets `port`.
chain_broker() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  local user_line=""
  [ "$(id -u)" = 0 ] && user_line="user root"
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n%s\n' "$port" "$user_line" >"$work/mosquitto.conf"
  mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
  pids+=($!)
}

# chain_headend_keys: the head-end's keys and configuration; sets sealing_pub and ack_pub.
chain_headend_keys() {
  "$bin/headend" keys generate --dir "$work/headend-keys" >"$work/headend-keys.txt"
  local sealing_key ack_key
  sealing_key=$(ls "$work"/headend-keys/sealing-*.key); ack_key=$(ls "$work"/headend-keys/ack-*.key)
  sealing_pub=$(ls "$work"/headend-keys/sealing-*.pub.json); ack_pub=$(ls "$work"/headend-keys/ack-*.pub.json)
  cat >"$work/headend.json" <<JSON
{"broker": {"host": "127.0.0.1", "port": $port, "clientId": "headend-local"},
 "database": "$work/headend.sqlite",
 "keys": {"sealing": ["$sealing_key"], "ack": "$ack_key"}}
JSON
}

# chain_meter_sim BAUD TURNAROUND METERS-ARGS...: one simulated bus at $work/bus1.
chain_meter_sim() {
  local baud=$1 turnaround=$2
  shift 2
  "$bin/meter-sim" --link "$work/bus1" --baud "$baud" --turnaround "$turnaround" --profiles Profiles "$@" \
    --control "$work/bus1.ctl" >"$work/meter-sim.out" 2>"$work/meter-sim.log" &
  pids+=($!)
  for _ in $(seq 1 50); do [ -e "$work/bus1" ] && break; sleep 0.1; done
}

# chain_agent_config DEVICE BAUD COUNT: the agent's configuration for COUNT meters of the usual mix on
# bus1, with the uplink to the local broker and head-end.
chain_agent_config() {
  python3 - "$work" "$port" "$sealing_pub" "$ack_pub" "$1" "$2" "$3" <<'PY'
import json, sys
work, port, sealing, ack, device, baud, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
def profile(a):
    return ("eastron-sdm630" if a <= 13 else "abb-b23" if a <= 26 else "carlo-gavazzi-em24" if a <= 39
            else "finder-7m" if a <= 52 else "eastron-sdm120")
config = {
    "device": {"id": device, "stateDirectory": f"{work}/state", "runtimeDirectory": f"{work}/run"},
    "buses": [{"name": "bus1", "device": f"{work}/bus1", "baud": baud}],
    "meters": [{"id": f"m{a:02d}", "bus": "bus1", "address": a, "profile": profile(a)} for a in range(1, count + 1)],
    "archive": {"intervalMinutes": 60, "retentionDays": 45},
    "uplink": {"broker": {"host": "127.0.0.1", "port": port}, "headEndKeys": [sealing, ack]},
}
json.dump(config, open(f"{work}/config.json", "w"), indent=2)
PY
  "$bin/concentrator" config check "$work/config.json" >/dev/null
}

# chain_register DEVICE: the device's public keys registered at the head-end.
chain_register() {
  "$bin/concentrator" keys show --documents --config "$work/config.json" >"$work/device-keys.json"
  "$bin/headend" devices add --id "$1" --key "$work/device-keys.json" --config "$work/headend.json" >/dev/null
}

# chain_start_headend, chain_start_agent [AGENT-ARGS...]: the two long-running programs.
chain_start_headend() {
  "$bin/headend" run --config "$work/headend.json" 2>"$work/headend.log" &
  pids+=($!)
}

chain_start_agent() {
  "$bin/concentrator" run --config "$work/config.json" "$@" 2>"$work/agent.log" &
  pids+=($!)
  for _ in $(seq 1 100); do [ -S "$work/run/control.sock" ] && return 0; sleep 0.1; done
  echo "the agent did not start: $(tail -5 "$work/agent.log")" >&2
  return 1
}

# chain_cleanup_on_exit: on exit, stop every started process and remove the working directory.
chain_cleanup_on_exit() {
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"' EXIT
}

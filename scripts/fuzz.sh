#!/usr/bin/env bash
# Builds a fuzz target with libFuzzer and AddressSanitizer and runs it for a while:
#   modbus  Fuzz/ModbusFrameFuzz.swift: RTU frames, request delimiting, register values, blocks;
#   wire    Fuzz/WireFuzz.swift: JSON, the configuration and profile loaders, interval and event bodies.
#   mesh    Fuzz/MeshFrameFuzz.swift: mesh frames and payloads, fragments and the reassembler, RN2483 lines.
#
#   scripts/fuzz.sh [modbus|wire|mesh] [seconds] [extra libFuzzer flags...]     (default: modbus, 30 seconds)
#
# ConcentratorCore is compiled as its own module; the codec sources are compiled together with the
# fuzz entry. Build output and the growing corpora live in .build/fuzz/.
# Exit status: 0 when the run ends without a finding, libFuzzer's status otherwise (the crashing
# input is written to .build/fuzz/crash-*).
set -euo pipefail

target=modbus
if [[ "${1:-}" == modbus || "${1:-}" == wire || "${1:-}" == mesh ]]; then target=$1; shift; fi
seconds="${1:-30}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_BUILD_DIR:-$root/.build/fuzz}"
mkdir -p "$out/corpus-$target"

flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -enable-upcoming-feature ExistentialAny)

echo "building ConcentratorCore (instrumented)..."
swiftc "${flags[@]}" -module-name ConcentratorCore -emit-module -emit-module-path "$out/ConcentratorCore.swiftmodule" \
    -emit-library -static -o "$out/libConcentratorCore.a" "$root"/Sources/ConcentratorCore/*.swift "$root"/Sources/ConcentratorCore/Bytes/*.swift

if [[ $target == modbus ]]; then
    echo "building modbus-frame-fuzz..."
    swiftc "${flags[@]}" -module-name ModbusFrameFuzz -I "$out" -L "$out" -lConcentratorCore \
        "$root"/Sources/MeterProtocols/*.swift "$root"/Fuzz/ModbusFrameFuzz.swift -o "$out/modbus-frame-fuzz"
    binary=modbus-frame-fuzz
    max_len=300
elif [[ $target == mesh ]]; then
    echo "building mesh-frame-fuzz..."
    mesh=("$root"/Sources/Mesh/Frames/{MeshNodeID,MeshFrame,MeshFrameError,MeshPayload,MeshFragmentation}.swift
          "$root"/Sources/Mesh/Links/{LoRaAirtime,RN2483Protocol}.swift)
    swiftc "${flags[@]}" -module-name MeshFrameFuzz -I "$out" -L "$out" -lConcentratorCore \
        "${mesh[@]}" "$root"/Fuzz/MeshFrameFuzz.swift -o "$out/mesh-frame-fuzz"
    binary=mesh-frame-fuzz
    max_len=2048
else
    echo "building wire-fuzz..."
    uplink=("$root"/Sources/Uplink/{WireFormatError,IntegerSequenceCodec,ValueColumnCodec,ValueRepresentation,IntervalBodyCodec,EventBodyCodec}.swift)
    swiftc "${flags[@]}" -module-name WireFuzz -I "$out" -L "$out" -lConcentratorCore \
        "${uplink[@]}" "$root"/Fuzz/WireFuzz.swift -o "$out/wire-fuzz"
    binary=wire-fuzz
    max_len=4096
fi

echo "fuzzing $binary for ${seconds}s..."
cd "$out"
exec "./$binary" -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 "$@" "corpus-$target"

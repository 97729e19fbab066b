#!/usr/bin/env bash
# Builds a fuzz target with libFuzzer and AddressSanitizer and runs it for a while:
#   modbus  Fuzz/ModbusFrameFuzz.swift: RTU frames, request delimiting, register values, blocks;
#   wire    Fuzz/WireFuzz.swift: JSON, the configuration and profile loaders, interval and event bodies.
#   mbus-frames   Fuzz/MBusFrameFuzz.swift: wired M-Bus frames, the splitter, echo filter, readout and scan sessions.
#   mbus-records  Fuzz/MBusRecordFuzz.swift: EN 13757-3 records, transport header, security paths, profile rules.
#   wmbus-frames  Fuzz/WirelessMBusFuzz.swift: wireless frames A/B and CRCs, ELL/AFL/TPL, the router, iM871A HCI.
#
#   scripts/fuzz.sh [modbus|wire|mbus-frames|mbus-records|wmbus-frames] [seconds] [extra libFuzzer flags...]
#   (default: modbus, 30 seconds)
#
# ConcentratorCore is compiled as its own module; the codec sources are compiled together with the
# fuzz entry. Build output and the growing corpora live in .build/fuzz/.
# Exit status: 0 when the run ends without a finding, libFuzzer's status otherwise (the crashing
# input is written to .build/fuzz/crash-*).
set -euo pipefail

target=modbus
case "${1:-}" in modbus|wire|mbus-frames|mbus-records|wmbus-frames) target=$1; shift ;; esac
seconds="${1:-30}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_BUILD_DIR:-$root/.build/fuzz}"
mkdir -p "$out/corpus-$target"

flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -enable-upcoming-feature ExistentialAny)

echo "building ConcentratorCore (instrumented)..."
swiftc "${flags[@]}" -module-name ConcentratorCore -emit-module -emit-module-path "$out/ConcentratorCore.swiftmodule" \
    -emit-library -static -o "$out/libConcentratorCore.a" "$root"/Sources/ConcentratorCore/*.swift "$root"/Sources/ConcentratorCore/*/*.swift

if [[ $target == modbus ]]; then
    echo "building modbus-frame-fuzz..."
    swiftc "${flags[@]}" -module-name ModbusFrameFuzz -I "$out" -L "$out" -lConcentratorCore \
        "$root"/Sources/MeterProtocols/*.swift "$root"/Fuzz/ModbusFrameFuzz.swift -o "$out/modbus-frame-fuzz"
    binary=modbus-frame-fuzz
    max_len=300
elif [[ $target == mbus-* || $target == wmbus-* ]]; then
    # The M-Bus codecs without their swift-crypto file (the fuzz entries bring a stand-in cipher).
    mbus=("$root"/Sources/MeterProtocols/MeterSession.swift "$root"/Sources/MeterProtocols/MBus/*.swift)
    for f in "$root"/Sources/MeterProtocols/WirelessMBus/*.swift; do [[ $f == *SwiftCrypto* ]] || mbus+=("$f"); done
    case $target in
        mbus-frames) entry=("$root"/Fuzz/MBusFrameFuzz.swift "$root"/Fuzz/MBusFuzzSupport.swift); max_len=600 ;;
        mbus-records) entry=("$root"/Fuzz/MBusRecordFuzz.swift "$root"/Fuzz/MBusFuzzSupport.swift); max_len=300 ;;
        wmbus-frames) entry=("$root"/Fuzz/WirelessMBusFuzz.swift "$root"/Fuzz/MBusFuzzSupport.swift); max_len=600 ;;
    esac
    binary=$target-fuzz
    echo "building $binary..."
    swiftc "${flags[@]}" -module-name MBusFuzz -I "$out" -L "$out" -lConcentratorCore \
        "${mbus[@]}" "${entry[@]}" -o "$out/$binary"
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

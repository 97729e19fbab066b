#!/usr/bin/env bash
# Builds the Modbus codec fuzz target (Fuzz/ModbusFrameFuzz.swift) with libFuzzer and
# AddressSanitizer and runs it for a while.
#
#   scripts/fuzz.sh [seconds] [extra libFuzzer flags...]     (default: 30 seconds)
#
# ConcentratorCore is compiled as its own module; the MeterProtocols sources are compiled
# together with the fuzz entry. Build output and the growing corpus live in .build/fuzz/.
# Exit status: 0 when the run ends without a finding, libFuzzer's status otherwise (the crashing
# input is written to .build/fuzz/crash-*).
set -euo pipefail

seconds="${1:-30}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_BUILD_DIR:-$root/.build/fuzz}"
mkdir -p "$out/corpus"

flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -enable-upcoming-feature ExistentialAny)

echo "building ConcentratorCore (instrumented)..."
swiftc "${flags[@]}" -module-name ConcentratorCore -emit-module -emit-module-path "$out/ConcentratorCore.swiftmodule" \
    -emit-library -static -o "$out/libConcentratorCore.a" "$root"/Sources/ConcentratorCore/*.swift

echo "building modbus-frame-fuzz..."
swiftc "${flags[@]}" -module-name ModbusFrameFuzz -I "$out" -L "$out" -lConcentratorCore \
    "$root"/Sources/MeterProtocols/*.swift "$root"/Fuzz/ModbusFrameFuzz.swift -o "$out/modbus-frame-fuzz"

echo "fuzzing for ${seconds}s..."
cd "$out"
exec ./modbus-frame-fuzz -max_total_time="$seconds" -max_len=300 -print_final_stats=1 "$@" corpus

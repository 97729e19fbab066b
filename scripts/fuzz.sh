#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer and AddressSanitizer and runs them:
#   modbus        Fuzz/ModbusFrameFuzz.swift: RTU frames, request delimiting, register values, blocks (MeterProtocols);
#   wire          Fuzz/WireFuzz.swift: JSON, the configuration and profile loaders, interval and event bodies;
#   sealed-batch  Fuzz/SealedBatchFuzz.swift: SealedBatch.parse and BatchOpener.open (hostile but authentic content);
#   ack           Fuzz/BatchAckFuzz.swift: BatchAck.verify (with and without a valid signature);
#   command       Fuzz/CommandFrameFuzz.swift: SignedCommandFrame, CommandEnvelope, CommandReply;
#   snapshot      Fuzz/SnapshotCodecFuzz.swift: the archive's stored snapshot rows (SnapshotCodec).
#
#   scripts/fuzz.sh [target] [seconds] [extra libFuzzer flags...]   one target (default: modbus, 30 seconds)
#   scripts/fuzz.sh all [seconds]                                    every target in turn (default: 15 s each);
#                                                                    CI (scripts/test.sh) runs this briefly
#
# How it is built: the modules the targets read are compiled as modules by swiftc, instrumented
# (-sanitize=fuzzer,address): ConcentratorCore, MeterProtocols and Wire (Wire with -enable-testing, so
# a target can seal with Wire's internal HPKE step). Wire imports swift-crypto and CZstd: the script
# first runs `swift build --target Wire` (the ordinary debug build, incremental), then compiles Wire
# against that build's Crypto module (-I its Modules directory, the C module maps SwiftPM generated)
# and links that build's object files of Crypto and BoringSSL (not instrumented: we fuzz our code,
# not theirs) and the system's libzstd (-lzstd, as CZstd's pkg-config names it). Build output and the
# growing corpora live in .build/fuzz/.
#
# Exit status: 0 when every run ends without a finding, libFuzzer's status otherwise (the crashing
# input is written to .build/fuzz/crash-* and named in the output).
set -euo pipefail

targets=(modbus wire sealed-batch ack command snapshot)
target=modbus
if [[ " ${targets[*]} all " == *" ${1:-} "* ]]; then target=$1; shift; fi
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_BUILD_DIR:-$root/.build/fuzz}"
mkdir -p "$out"

flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -enable-upcoming-feature ExistentialAny
       -package-name concentrator)

sources() { find "$root/Sources/$1" -name '*.swift' | sort; }

# A module as a static library and a .swiftmodule in $out, rebuilt when one of its sources changed.
build_module() {
    local name=$1; shift
    local stamp="$out/lib$name.a"
    if [[ -f $stamp ]] && [[ -z $(find "$root/Sources/$name" -name '*.swift' -newer "$stamp" | head -1) ]] \
        && ! [[ $out/libConcentratorCore.a -nt $stamp ]]; then return; fi
    echo "building $name (instrumented)..."
    swiftc "${flags[@]}" "$@" -module-name "$name" -emit-module -emit-module-path "$out/$name.swiftmodule" \
        -emit-library -static -o "$out/lib$name.a" -I "$out" $(sources "$name")
}

# What Wire needs from the package's debug build: swift-crypto's modules and objects, CZstd's module map.
crypto_flags=()
crypto_objects=()
prepare_crypto() {
    [[ ${#crypto_objects[@]} -gt 0 ]] && return
    echo "building Wire's dependencies (swift build --target Wire)..."
    (cd "$root" && swift build --target Wire >/dev/null)
    local bin
    bin=$(cd "$root" && swift build --show-bin-path)
    # Crypto's own C modules are imported implementation-only: its .swiftmodule is enough to compile
    # against; CZstd's module map is the package's.
    crypto_flags=(-I "$bin/Modules" -Xcc -fmodule-map-file="$root/Sources/CZstd/module.modulemap")
    local dir
    for dir in Crypto CryptoBoringWrapper CCryptoBoringSSL CCryptoBoringSSLShims CXKCP CXKCPShims; do
        [[ -d $bin/$dir.build ]] || continue
        while IFS= read -r o; do crypto_objects+=("$o"); done < <(find "$bin/$dir.build" -name '*.o' | sort)
    done
}

build_target() {
    local t=$1 entry binary modules=(ConcentratorCore) libs=(-lConcentratorCore)
    build_module ConcentratorCore
    case $t in
    modbus)
        build_module MeterProtocols -lConcentratorCore
        modules+=(MeterProtocols); libs=(-lMeterProtocols "${libs[@]}"); entry=ModbusFrameFuzz ;;
    snapshot) entry=SnapshotCodecFuzz ;;
    *)
        prepare_crypto
        build_module Wire -enable-testing "${crypto_flags[@]}"
        libs=(-lWire "${libs[@]}" "${crypto_objects[@]}" -lzstd -lstdc++)
        case $t in
        wire) entry=WireFuzz ;;
        sealed-batch) entry=SealedBatchFuzz ;;
        ack) entry=BatchAckFuzz ;;
        command) entry=CommandFrameFuzz ;;
        esac ;;
    esac
    binary="$out/$t-fuzz"
    echo "building $t-fuzz..."
    swiftc "${flags[@]}" -use-ld=lld -module-name "$entry" -I "$out" -L "$out" "${crypto_flags[@]}" "$root/Fuzz/$entry.swift" "${libs[@]}" \
        -o "$binary"
}

max_len() {
    case $1 in
    modbus) echo 300 ;;
    ack | snapshot) echo 1024 ;;
    *) echo 4096 ;;
    esac
}

run_target() {
    local t=$1 seconds=$2; shift 2
    mkdir -p "$out/corpus-$t"
    echo "fuzzing $t for ${seconds}s..."
    # The Swift runtime's own crash handler would trip AddressSanitizer; libFuzzer reports the crash.
    (cd "$out" && SWIFT_BACKTRACE=enable=no "./$t-fuzz" -max_total_time="$seconds" -max_len="$(max_len "$t")" -print_final_stats=1 "$@" "corpus-$t")
}

if [[ $target == all ]]; then
    seconds="${1:-15}"
    failed=()
    for t in "${targets[@]}"; do build_target "$t"; done
    for t in "${targets[@]}"; do
        run_target "$t" "$seconds" -close_fd_mask=1 || failed+=("$t")
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        echo "fuzz findings in: ${failed[*]} (inputs: $out/crash-*)" >&2
        exit 1
    fi
    echo "fuzz: no findings in ${targets[*]} (${seconds}s each)"
    exit 0
fi

seconds="${1:-30}"
shift || true
build_target "$target"
run_target "$target" "$seconds" "$@"

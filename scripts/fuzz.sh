#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer and AddressSanitizer and runs them:
#   modbus        Fuzz/ModbusFrameFuzz.swift: RTU frames, request delimiting, register values, blocks (MeterProtocols);
#   wire          Fuzz/WireFuzz.swift: JSON, the configuration and profile loaders, interval and event bodies;
#   sealed-batch  Fuzz/SealedBatchFuzz.swift: SealedBatch.parse and BatchOpener.open (hostile but authentic content);
#   ack           Fuzz/BatchAckFuzz.swift: BatchAck.verify (with and without a valid signature);
#   command       Fuzz/CommandFrameFuzz.swift: SignedCommandFrame, CommandEnvelope, CommandReply;
#   snapshot      Fuzz/SnapshotCodecFuzz.swift: the archive's stored snapshot rows (SnapshotCodec);
#   hdlc          Fuzz/HDLCFuzz.swift: DLMS HDLC frame splitter, frame and SNRM/UA parameter decoders;
#   apdu          Fuzz/DLMSAPDUFuzz.swift (alias axdr): A-XDR Data, xDLMS APDUs, AARQ/AARE, ciphered
#                 framing, date-times, the profile row stream;
#   iec           Fuzz/IECFuzz.swift: IEC 62056-21 frame assembler, data blocks and lines, OBIS, messages, P.01;
#   mbus-frames   Fuzz/MBusFrameFuzz.swift: wired M-Bus frames, the splitter, echo filter, readout and scan sessions;
#   mbus-records  Fuzz/MBusRecordFuzz.swift: EN 13757-3 records, transport header, security paths, profile rules;
#   wmbus-frames  Fuzz/WirelessMBusFuzz.swift: wireless frames A/B and CRCs, ELL/AFL/TPL, the router, iM871A HCI;
#   zone          Fuzz/ZoneRulesFuzz.swift: TZif files and POSIX TZ strings (Monitoring);
#   mesh          Fuzz/MeshFrameFuzz.swift: mesh frames and payloads, fragments and the reassembler, RN2483
#                 lines (the pure Mesh files, compiled with the entry: Mesh itself imports Platform).
#
#   scripts/fuzz.sh [target] [seconds] [extra libFuzzer flags...]   one target (default: modbus, 30 seconds)
#   scripts/fuzz.sh all [seconds]                                    every target in turn (default: 15 s each);
#                                                                    CI (scripts/test.sh) runs this briefly
#
# How it is built: the modules the targets read are compiled as modules by swiftc, instrumented
# (-sanitize=fuzzer,address): ConcentratorCore, MeterProtocols, Monitoring and Wire (with
# -enable-testing, so a target can reach internal steps such as Wire's HPKE sealing). Wire and
# MeterProtocols import swift-crypto (and Wire CZstd): the script first runs `swift build --target Wire
# --target MeterProtocols` (the ordinary debug build, incremental), then compiles them against that
# build's Crypto module (-I its Modules directory, the C module maps SwiftPM generated)
# and links that build's object files of Crypto and BoringSSL (not instrumented: we fuzz our code,
# not theirs) and the system's libzstd (-lzstd, as CZstd's pkg-config names it). Build output and the
# growing corpora live in .build/fuzz/.
#
# Exit status: 0 when every run ends without a finding, libFuzzer's status otherwise (the crashing
# input is written to .build/fuzz/crash-* and named in the output).
set -euo pipefail

targets=(modbus wire sealed-batch ack command snapshot hdlc apdu iec mbus-frames mbus-records wmbus-frames zone mesh)
target=modbus
if [[ " ${targets[*]} all axdr " == *" ${1:-} "* ]]; then target=$1; shift; fi
[[ $target == axdr ]] && target=apdu
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
    echo "building the crypto dependencies (swift build --target Wire --target MeterProtocols)..."
    (cd "$root" && swift build --target Wire >/dev/null && swift build --target MeterProtocols >/dev/null)
    local bin
    bin=$(cd "$root" && swift build --show-bin-path)
    # Crypto's own C modules are imported implementation-only: its .swiftmodule is enough to compile
    # against; CZstd's module map is the package's.
    crypto_flags=(-I "$bin/Modules" -Xcc -fmodule-map-file="$root/Sources/CZstd/module.modulemap")
    local dir
    for dir in Crypto _CryptoExtras CryptoExtras SwiftASN1 CryptoBoringWrapper CCryptoBoringSSL CCryptoBoringSSLShims CXKCP CXKCPShims; do
        [[ -d $bin/$dir.build ]] || continue
        while IFS= read -r o; do crypto_objects+=("$o"); done < <(find "$bin/$dir.build" -name '*.o' | sort)
    done
}

build_target() {
    local t=$1 entry binary extra=() libs=(-lConcentratorCore)
    build_module ConcentratorCore
    case $t in
    snapshot) entry=SnapshotCodecFuzz ;;
    mesh)
        entry=MeshFrameFuzz
        extra=("$root"/Sources/Mesh/Frames/{MeshNodeID,MeshFrame,MeshFrameError,MeshPayload,MeshFragmentation}.swift
               "$root"/Sources/Mesh/Links/{LoRaAirtime,RN2483Protocol}.swift) ;;
    zone)
        build_module Monitoring -enable-testing
        libs=(-lMonitoring "${libs[@]}"); entry=ZoneRulesFuzz ;;
    modbus | hdlc | apdu | iec | mbus-* | wmbus-*)
        prepare_crypto
        build_module MeterProtocols -enable-testing "${crypto_flags[@]}"
        libs=(-lMeterProtocols "${libs[@]}" "${crypto_objects[@]}" -lstdc++)
        case $t in
        modbus) entry=ModbusFrameFuzz ;;
        hdlc) entry=HDLCFuzz ;;
        apdu) entry=DLMSAPDUFuzz ;;
        iec) entry=IECFuzz ;;
        mbus-frames) entry=MBusFrameFuzz; extra=("$root/Fuzz/MBusFuzzSupport.swift") ;;
        mbus-records) entry=MBusRecordFuzz; extra=("$root/Fuzz/MBusFuzzSupport.swift") ;;
        wmbus-frames) entry=WirelessMBusFuzz; extra=("$root/Fuzz/MBusFuzzSupport.swift") ;;
        esac ;;
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
    swiftc "${flags[@]}" -use-ld=lld -module-name "${entry}Entry" -I "$out" -L "$out" "${crypto_flags[@]}" \
        "$root/Fuzz/$entry.swift" "${extra[@]}" "${libs[@]}" -o "$binary"
}

max_len() {
    case $1 in
    modbus | mbus-records) echo 300 ;;
    ack | snapshot) echo 1024 ;;
    mbus-frames | wmbus-frames) echo 600 ;;
    hdlc | apdu) echo 2100 ;;
    mesh) echo 2048 ;;
    iec) echo 2048 ;;
    *) echo 4096 ;;
    esac
}

run_target() {
    local t=$1 seconds=$2; shift 2
    mkdir -p "$out/corpus-$t"
    if [[ $t == zone ]]; then
        # Seeds: a few real zone files (selector byte 0) and TZ strings (selector byte 1).
        local zone f
        for zone in Europe/Rome Australia/Sydney America/Los_Angeles UTC; do
            f="$out/corpus-zone/seed-${zone//\//-}"
            [[ -e $f || ! -r /usr/share/zoneinfo/$zone ]] || { printf '\0'; cat "/usr/share/zoneinfo/$zone"; } > "$f"
        done
        printf '\1CET-1CEST,M3.5.0,M10.5.0/3' > "$out/corpus-zone/seed-tz-rome"
        printf '\1<+03>-3<+04>,J60/25,300/-1' > "$out/corpus-zone/seed-tz-odd"
    fi
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

#!/usr/bin/env bash
# Builds a fuzz target with libFuzzer and AddressSanitizer and runs it for a while:
#   modbus  Fuzz/ModbusFrameFuzz.swift: RTU frames, request delimiting, register values, blocks;
#   wire    Fuzz/WireFuzz.swift: JSON, the configuration and profile loaders, interval and event bodies;
#   hdlc    Fuzz/HDLCFuzz.swift: DLMS HDLC frame splitter, frame and SNRM/UA parameter decoders;
#   apdu    Fuzz/DLMSAPDUFuzz.swift (alias axdr): A-XDR Data, xDLMS APDUs, AARQ/AARE, ciphered framing,
#           date-times, the profile row stream;
#   iec     Fuzz/IECFuzz.swift: IEC 62056-21 frame assembler, data blocks and lines, OBIS, messages, P.01;
#   zone    Fuzz/ZoneRulesFuzz.swift: TZif files and POSIX TZ strings (Sources/Monitoring/Time);
#   mbus-frames   Fuzz/MBusFrameFuzz.swift: wired M-Bus frames, the splitter, echo filter, readout and scan sessions;
#   mbus-records  Fuzz/MBusRecordFuzz.swift: EN 13757-3 records, transport header, security paths, profile rules;
#   wmbus-frames  Fuzz/WirelessMBusFuzz.swift: wireless frames A/B and CRCs, ELL/AFL/TPL, the router, iM871A HCI.
#
#   scripts/fuzz.sh [modbus|wire|hdlc|apdu|axdr|iec|zone|mbus-frames|mbus-records|wmbus-frames] [seconds] [flags...]
#   (default: modbus, 30 seconds)
#
# ConcentratorCore is compiled as its own module; the codec sources are compiled together with the
# fuzz entry. Build output and the growing corpora live in .build/fuzz/.
# Exit status: 0 when the run ends without a finding, libFuzzer's status otherwise (the crashing
# input is written to .build/fuzz/crash-*).
set -euo pipefail

target=modbus
if [[ "${1:-}" =~ ^(modbus|wire|hdlc|apdu|axdr|iec|zone|mbus-frames|mbus-records|wmbus-frames)$ ]]; then target=$1; shift; fi
[[ $target == axdr ]] && target=apdu
seconds="${1:-30}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_BUILD_DIR:-$root/.build/fuzz}"
mkdir -p "$out/corpus-$target"

flags=(-sanitize=fuzzer,address -parse-as-library -O -g -swift-version 6 -enable-upcoming-feature ExistentialAny)

echo "building ConcentratorCore (instrumented)..."
swiftc "${flags[@]}" -module-name ConcentratorCore -emit-module -emit-module-path "$out/ConcentratorCore.swiftmodule" \
    -emit-library -static -o "$out/libConcentratorCore.a" $(find "$root/Sources/ConcentratorCore" -name '*.swift' | sort)

if [[ $target == modbus ]]; then
    echo "building modbus-frame-fuzz..."
    swiftc "${flags[@]}" -module-name ModbusFrameFuzz -I "$out" -L "$out" -lConcentratorCore \
        "$root"/Sources/MeterProtocols/*.swift "$root"/Fuzz/ModbusFrameFuzz.swift -o "$out/modbus-frame-fuzz"
    binary=modbus-frame-fuzz
    max_len=300
elif [[ $target == hdlc || $target == apdu ]]; then
    # The DLMS codecs without the ciphering and session files (those need swift-crypto).
    dlms=("$root"/Sources/MeterProtocols/DLMS/{HDLCCheck,HDLCFrame,HDLCFrameSplitter,HDLCParameters,AXDRLength,DLMSData,DLMSDataCodec,ACSE,AssociationAPDU,XDLMSAPDU,CipheredAPDU,COSEMTypes,COSEMDateTime,DLMSRowStream}.swift)
    entry=$([[ $target == hdlc ]] && echo HDLCFuzz || echo DLMSAPDUFuzz)
    binary=$([[ $target == hdlc ]] && echo hdlc-fuzz || echo dlms-apdu-fuzz)
    echo "building $binary..."
    swiftc "${flags[@]}" -module-name "$entry" -I "$out" -L "$out" -lConcentratorCore \
        "${dlms[@]}" "$root/Fuzz/$entry.swift" -o "$out/$binary"
    max_len=2100
elif [[ $target == iec ]]; then
    echo "building iec-fuzz..."
    swiftc "${flags[@]}" -module-name IECFuzz -I "$out" -L "$out" -lConcentratorCore \
        "$root"/Sources/MeterProtocols/*.swift "$root"/Sources/MeterProtocols/IEC62056/*.swift "$root"/Fuzz/IECFuzz.swift \
        -o "$out/iec-fuzz"
    binary=iec-fuzz
    max_len=2048
elif [[ $target == zone ]]; then
    echo "building zone-rules-fuzz..."
    swiftc "${flags[@]}" -module-name ZoneRulesFuzz -I "$out" -L "$out" -lConcentratorCore \
        "$root"/Sources/Monitoring/Time/*.swift "$root"/Fuzz/ZoneRulesFuzz.swift -o "$out/zone-rules-fuzz"
    binary=zone-rules-fuzz
    max_len=4096
    # Seeds: a few real zone files (selector byte 0) and TZ strings (selector byte 1).
    for zone in Europe/Rome Australia/Sydney America/Los_Angeles UTC; do
        f="$out/corpus-zone/seed-${zone//\//-}"
        [[ -e $f || ! -r /usr/share/zoneinfo/$zone ]] || { printf '\0'; cat "/usr/share/zoneinfo/$zone"; } > "$f"
    done
    printf '\1CET-1CEST,M3.5.0,M10.5.0/3' > "$out/corpus-zone/seed-tz-rome"
    printf '\1<+03>-3<+04>,J60/25,300/-1' > "$out/corpus-zone/seed-tz-odd"
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

#!/usr/bin/env bash
# The gateway binary as shipped, in .build-gateway/concentrator (its own build directory, so these
# flags never churn the ordinary release build):
#   - release, optimised for size (-Osize), the Swift runtime linked in statically;
#   - linked by lld: unused sections collected and identical code folded (--gc-sections, --icf=all);
#   - no dynamic symbol table of our own: the toolchain's static-stdlib-args.lnk passes -export-dynamic,
#     which exported ~23,000 symbols (2.4 MB of .dynsym/.dynstr/.gnu.hash) and kept every one of them
#     alive through --gc-sections; --no-export-dynamic (after it on the line) turns that off;
#   - relative relocations packed (-z pack-relative-relocs, DT_RELR): 1.4 MB of RELA entries become
#     12 KB; needs glibc 2.36 (Debian 12); scripts/make-deb.sh raises the libc6 dependency to match;
#   - full RELRO (relocations resolved at start, then read-only; scripts/lib/restore-relro.py keeps it
#     through objcopy);
#   - symbols stripped, and the unwind tables (.eh_frame, .eh_frame_hdr) removed: Swift does not
#     unwind for errors, the C libraries that might (libmodbus, SQLite, libmosquitto) are linked
#     dynamically with their own tables, and Swift's crash backtracer walks frame pointers.
# Prints the binary's path and size. The end-to-end suite passes against this binary
# (CONCENTRATOR_BIN_DIR=.build-gateway swift test --skip-build --filter EndToEndTests, with meter-sim
# and headend copied beside it).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.build-gateway-work
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product concentrator \
  -Xswiftc -Osize -Xswiftc -use-ld=lld -Xlinker --gc-sections -Xlinker --icf=all -Xlinker -z -Xlinker now \
  -Xlinker --no-export-dynamic -Xlinker -z -Xlinker pack-relative-relocs
built=$(swift build -c release --scratch-path "$scratch" --show-bin-path)/concentrator
mkdir -p .build-gateway
strip --strip-all --remove-section=.comment --remove-section=.note -o .build-gateway/concentrator.tmp "$built"
objcopy --remove-section=.eh_frame --remove-section=.eh_frame_hdr .build-gateway/concentrator.tmp .build-gateway/concentrator.new
# GNU objcopy drops the GNU_RELRO program header while it compacts the file; put it back, and refuse
# to ship a binary without it.
python3 scripts/lib/restore-relro.py .build-gateway/concentrator.tmp .build-gateway/concentrator.new
readelf -lW .build-gateway/concentrator.new | grep -q GNU_RELRO || { echo "no GNU_RELRO in the binary" >&2; exit 1; }
if readelf -lW .build-gateway/concentrator.new | grep -q GNU_EH_FRAME; then echo "a stale GNU_EH_FRAME is left" >&2; exit 1; fi
mv .build-gateway/concentrator.new .build-gateway/concentrator
rm -f .build-gateway/concentrator.tmp
echo ".build-gateway/concentrator $(stat -c %s .build-gateway/concentrator) bytes"

#!/usr/bin/env bash
# Checks the systemd units in Systemd/:
#   1. `systemd-analyze verify` on every unit, and on the unit each drop-in directory extends (a
#      template such as serial-getty@.service is checked as serial-getty@ttyS0.service). Any
#      output counts as a failure: verify exits 0 on unknown keys, it only prints them.
#   2. `systemd-analyze security --offline=true` on concentrator.service; prints the exposure
#      and fails above the limit (default 2.0).
#
#   scripts/systemd-check.sh [path/to/concentrator] [max-exposure]
#
# verify needs the ExecStart= binary, so it runs against a throwaway root holding the host's
# system units, ours and the binary as /usr/bin/concentrator (default: the release build, else the
# debug build). No running systemd is needed. Exit status: 0 clean, 1 a check failed, 2 the
# binary or systemd-analyze is missing.
set -euo pipefail

root_dir=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-}
limit=${2:-2.0}
if [[ -z $binary ]]; then
    for candidate in "$root_dir/.build/release/concentrator" "$root_dir/.build/debug/concentrator"; do
        if [[ -x $candidate ]]; then binary=$candidate; break; fi
    done
fi
if ! command -v systemd-analyze >/dev/null; then
    echo "systemd-check: systemd-analyze is missing; run scripts/install-deps.sh" >&2
    exit 2
fi
if [[ -z $binary || ! -x $binary ]]; then
    echo "systemd-check: no concentrator binary; build it first (swift build) or pass its path" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/systemd-check-XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/usr/bin" "$work/lib/systemd" "$work/etc/systemd/system"
cp -a /lib/systemd/system "$work/lib/systemd/"
cp -a "$root_dir"/Systemd/. "$work/lib/systemd/system/"
cp "$binary" "$work/usr/bin/concentrator"

units=()
for f in "$root_dir"/Systemd/*.service "$root_dir"/Systemd/*.socket "$root_dir"/Systemd/*.timer; do
    [[ -e $f ]] || continue
    name=$(basename "$f")
    [[ $name == *@.* ]] && name=${name/@./@ttyS0.}
    units+=("$name")
done
for d in "$root_dir"/Systemd/*.d; do
    [[ -d $d ]] || continue
    name=$(basename "$d" .d)
    [[ $name == *@.* ]] && name=${name/@./@ttyS0.}
    units+=("$name")
done

status=0
for unit in "${units[@]}"; do
    if output=$(systemd-analyze verify --root="$work" "$unit" 2>&1) && [[ -z $output ]]; then
        echo "verify $unit: clean"
    else
        echo "verify $unit: FAILED"
        echo "$output" | sed 's/^/  /'
        status=1
    fi
done

report=$(systemd-analyze security --offline=true --root="$work" concentrator.service 2>&1 || true)
exposure=$(echo "$report" | sed -n 's/.*Overall exposure level for concentrator.service: \([0-9.]*\).*/\1/p')
if [[ -z $exposure ]]; then
    echo "security concentrator.service: no exposure level in the output:"
    echo "$report" | tail -5 | sed 's/^/  /'
    exit 1
fi
echo "security concentrator.service: exposure $exposure (limit $limit)"
echo "$report" | grep '✗' | sed -E 's/ {2,}/  /g; s/^/  /' || true
if awk -v e="$exposure" -v l="$limit" 'BEGIN { exit !(e > l) }'; then
    echo "security concentrator.service: exposure $exposure is above $limit"
    status=1
fi
exit $status

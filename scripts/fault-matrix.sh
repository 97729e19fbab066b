#!/usr/bin/env bash
# The fault matrix (issue 17): runs every fault test — disk full on a tmpfs, clock jumps, a retained
# 64 MiB command under a memory limit, reply confusion, an audit flood, bad acks, FIFO and /dev/zero
# configurations, Ctrl-C, config validation — plus the kill -9, broker-outage and bus-fault
# end-to-end tests, and prints one JSON table: per fault the runs, values expected, values delivered,
# lost and duplicated (and what else a test measured, such as log lines while the disk was full).
#
#   scripts/fault-matrix.sh            the whole matrix (about 10 minutes; 50 kill -9s)
#   scripts/fault-matrix.sh --short    5 kill -9s, without the full-chain run and the bad-CRC bus test
#                                      (a minute each), about 4 minutes
#   scripts/fault-matrix.sh --tabulate ROWS LOG
#                                      the CI form (scripts/test.sh): runs nothing; the table of the rows
#                                      the fault tests appended to ROWS while the whole suite ran (with
#                                      FAULT_MATRIX_OUT=ROWS, KILL_ITERATIONS=5), their results read from LOG
#
# Each test appends its rows to $FAULT_MATRIX_OUT (Tests/TestSupport/FaultMatrix.swift). Exit status:
# non-zero when a test failed or a row lost or duplicated anything. Tests that cannot run here
# (the tmpfs needs root) are listed under "skipped". The build must exist (swift build --build-tests).
# The test output is kept in .build/fault-matrix-log.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=full
case "${1:-}" in
    --short) mode=short ;;
    --tabulate) mode=ci ;;
    "") ;;
    *) echo "usage: $0 [--short | --tabulate ROWS LOG]" >&2; exit 64 ;;
esac

# Suites and tests (swift test --filter regular expressions), each a fault or its unit-level check.
filters=(
    'OutboxSealerFaultTests' 'StorageReserveTests' 'StorageWatchTests' 'RetentionClockTests'
    'MQTTIncomingLimitTests' 'BrokerACLExampleTests' 'CommandThreadWatchdogTests' 'ConfigurationFileFaultTests'
    'PortSpellingTests' 'UTF8TextTests' 'ReplyDigestTests' 'AuditFloodTests' 'DroppedCommandAuditTests' 'MinuteAllowanceTests'
    'DiskFullTests' 'ClockJumpTests' 'OversizedCommandTests' 'ReplyConfusionTests' 'BadAckFloodTests'
    'ConfigFileFaultTests' 'CommandLineFaultTests'
    'CoreLoopTests/killMinus9DuringCommits' 'CoreLoopTests/aMissingPortIsOneClearLogLine'
    'UplinkContractTests/aLongBrokerOutageDrainsCompletelyAfterwards' 'UplinkContractTests/killMinus9MidDrain'
)
if [ "$mode" = full ]; then
    filters+=('FullChainTests' 'BusOwnerTests/deadAndBadCRCMeters')
    export KILL_ITERATIONS="${KILL_ITERATIONS:-50}"
else
    export KILL_ITERATIONS="${KILL_ITERATIONS:-5}"
fi

status=0
if [ "$mode" = ci ]; then
    [ $# -eq 3 ] || { echo "usage: $0 --tabulate ROWS LOG" >&2; exit 64; }
    export FAULT_MATRIX_OUT="$2"
    log="$3"
    touch "$FAULT_MATRIX_OUT"
    elapsed=0
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    export FAULT_MATRIX_OUT="$work/rows.jsonl"
    : > "$FAULT_MATRIX_OUT"
    args=()
    for f in "${filters[@]}"; do args+=(--filter "$f"); done
    started=$(date +%s)
    log=.build/fault-matrix-log.txt
    swift test --skip-build --no-parallel "${args[@]}" > "$log" 2>&1 || status=$?
    elapsed=$(( $(date +%s) - started ))
fi

python3 - "$FAULT_MATRIX_OUT" "$log" "$mode" "$status" "$elapsed" <<'PY'
import json, re, sys
rows_path, log_path, mode, status, elapsed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
table = {}
for line in open(rows_path, encoding="utf-8"):
    if not line.strip():
        continue
    r = json.loads(line)
    t = table.setdefault(r["fault"], {"fault": r["fault"], "runs": 0, "expected": 0, "delivered": 0, "lost": 0, "duplicated": 0})
    for k in ("runs", "expected", "delivered", "lost", "duplicated"):
        t[k] += r[k]
    for k, v in r.items():
        if k not in t:
            t[k] = v
        elif k not in ("fault", "runs", "expected", "delivered", "lost", "duplicated"):
            t[k] = max(t[k], v)  # a measurement: the worst run
log = open(log_path, encoding="utf-8", errors="replace").read()
passed = sorted(set(re.findall(r"^✔ Test (\S+?)(?:\(\))? passed", log, re.M)))
failed = sorted(set(re.findall(r"^✘ Test (\S+?)(?:\(\))? failed", log, re.M)))
skipped = sorted(set(re.findall(r"^[◇➜↳]? ?Test (\S+?)(?:\(\))? skipped", log, re.M))
                 | set(re.findall(r"^✘? ?Suite (\S+) skipped", log, re.M)) | set(re.findall(r"Suite (\S+) skipped", log)))
faults = sorted(table.values(), key=lambda t: t["fault"])
bad = [t["fault"] for t in faults if t["lost"] or t["duplicated"]]
print(json.dumps({"mode": mode, "seconds": elapsed, "testsPassed": len(passed), "testsFailed": failed, "skipped": skipped,
                  "faults": faults, "lostOrDuplicated": bad}, indent=2, ensure_ascii=False))
if status != 0 or failed:
    print("fault matrix: tests failed; their recorded issues:", file=sys.stderr)
    for line in log.splitlines():
        if line.startswith("✘") or line.startswith("↳"):
            print(line[:400], file=sys.stderr)
sys.exit(1 if status != 0 or failed or bad else 0)
PY

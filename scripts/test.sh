#!/usr/bin/env bash
# Runs every test, in two tiers:
#   scripts/test.sh          both tiers (what CI runs through .ci/run)
#   scripts/test.sh --fast   the fast tier only: unit and integration tests (every target but
#                            EndToEndTests), a few minutes
# The second tier is EndToEndTests: real processes (meter-sim, mosquitto, agents, head-ends,
# Chromium), the slow end of the suite. While it runs, the fault tests append their rows to
# .build/fault-matrix-rows.jsonl (5 kill -9s instead of 50), and `scripts/fault-matrix.sh --tabulate`
# prints the fault matrix's JSON table from them (the full matrix: scripts/fault-matrix.sh).
#
# Runs every test: installs missing dependencies, builds everything (including the executables the
# end-to-end tests start), then runs unit, integration and end-to-end tests (real processes:
# meter-sim, mosquitto, the agent, the head-end, tmux). One at a time: many tests measure line timing,
# reconnect delays and keepalives, which parallel suites on two cores would distort.
#
# The build refuses a module imported by a target that does not declare it
# (--explicit-target-dependency-import-check error). After the tests, every fuzz target runs
# briefly (scripts/fuzz.sh all, FUZZ_SECONDS each, default 15; FUZZ_SECONDS=0 skips them); a fuzz
# finding fails the run like a failed test.
#
# The full test log is kept in .build/test-log.txt; when a test fails, its recorded issues are
# printed again at the end, so the last lines of a CI log name what failed.
set -euo pipefail
cd "$(dirname "$0")/.."
tier=all
case "${1:-}" in
    --fast) tier=fast ;;
    "") ;;
    *) echo "usage: $0 [--fast]" >&2; exit 64 ;;
esac
scripts/install-deps.sh
swift build --build-tests --explicit-target-dependency-import-check error
mkdir -p .build
log=.build/test-log.txt
export FAULT_MATRIX_OUT="$PWD/.build/fault-matrix-rows.jsonl"
export KILL_ITERATIONS="${KILL_ITERATIONS:-5}"
: > "$FAULT_MATRIX_OUT"
status=0
echo "=== tier 1: unit and integration tests (everything but EndToEndTests) ==="
swift test --skip-build --no-parallel --skip EndToEndTests 2>&1 | tee "$log" || status=$?
if [ "$tier" = all ]; then
    echo "=== tier 2: end-to-end tests (EndToEndTests: real processes) ==="
    swift test --skip-build --no-parallel --filter EndToEndTests 2>&1 | tee -a "$log" || status=$?
    # The fault matrix (issue 17): its JSON table from the rows the fault tests just wrote.
    scripts/fault-matrix.sh --tabulate "$FAULT_MATRIX_OUT" "$log" || status=$?
fi
if [ "$status" -ne 0 ]; then
    echo
    echo "=== failed tests and their recorded issues (full log: $log) ==="
    # Recorded issues ("✘ … recorded an issue", with their "↳" comments) and failed tests and
    # suites, each line cut at 400 characters.
    grep -E '^(✘|↳)' "$log" | cut -c1-400 | head -80 || true
fi
fuzz_seconds="${FUZZ_SECONDS:-15}"
if [ "$fuzz_seconds" -gt 0 ] && [ "$tier" = all ]; then
    fuzz_status=0
    scripts/fuzz.sh all "$fuzz_seconds" >.build/fuzz-log.txt 2>&1 || fuzz_status=$?
    # One line per build step and run, the final stats, and any sanitizer or libFuzzer report.
    grep -E '^(building|fuzzing|fuzz|Done|#[0-9]+ +DONE|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' .build/fuzz-log.txt || true
    if [ "$fuzz_status" -ne 0 ]; then
        echo "=== fuzzing failed: a crashing input or a build error (full log: .build/fuzz-log.txt) ==="
        tail -40 .build/fuzz-log.txt
        status=1
    fi
fi
exit "$status"

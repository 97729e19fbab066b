#!/usr/bin/env bash
# Runs every test: installs missing dependencies, builds everything (including the executables the
# end-to-end tests start), then runs unit, integration and end-to-end tests (real processes:
# meter-sim, mosquitto, the agent, the head-end, tmux). One at a time: many tests measure line timing,
# reconnect delays and keepalives, which parallel suites on two cores would distort.
#
# The full test log is kept in .build/test-log.txt; when a test fails, its recorded issues are
# printed again at the end, so the last lines of a CI log name what failed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
log=.build/test-log.txt
status=0
swift test --skip-build --no-parallel 2>&1 | tee "$log" || status=$?
# The fault matrix's short form (issue 17): its JSON table in the CI log.
scripts/fault-matrix.sh --short || status=$?
if [ "$status" -ne 0 ]; then
    echo
    echo "=== failed tests and their recorded issues (full log: $log) ==="
    # Recorded issues ("✘ … recorded an issue", with their "↳" comments) and failed tests and
    # suites, each line cut at 400 characters.
    grep -E '^(✘|↳)' "$log" | cut -c1-400 | head -80 || true
fi
exit "$status"

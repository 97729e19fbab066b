#!/bin/sh
# The installer's whole commissioning path (issue 16) with the issue's field: 64 meters at 19200 baud
# in three address groups (10-29, 100-121, 200-221), one dead, one with a bad CRC, a 66-row CSV.
# Runs the tmux-driven end-to-end test with 64 meters instead of the CI's 15 and prints the phase
# timings (seconds from the console's start; the test types instantly, so this is the machine's time).
# Usage: scripts/console-commissioning-64.sh   (after swift build --build-tests)
set -eu
cd "$(dirname "$0")/.."
timings=$(mktemp)
CONSOLE_E2E_METERS=64 CONSOLE_E2E_TIMINGS="$timings" \
    swift test --skip-build --filter ConsoleCommissioningTests/commissioningFinishesOnSiteFromTheSerialConsole
echo "timings (64 meters, 19200 baud): $(cat "$timings")"
rm -f "$timings"

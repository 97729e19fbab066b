#!/usr/bin/env bash
# kill -9 of the running agent during archive commits, many times (1000 by default), then checks:
# PRAGMA integrity_check ok, no interval stored twice, and every interval an agent logged as
# archived is in the archive. The same test runs with 50 kills in the test suite.
#
#   scripts/crash-agent.sh [KILLS]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
KILL_ITERATIONS=${1:-1000} swift test --skip-build --no-parallel --filter killMinus9DuringCommits

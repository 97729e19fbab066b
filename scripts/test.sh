#!/usr/bin/env bash
# Runs every test: installs missing dependencies, builds everything (including the executables
# the end-to-end tests start), runs unit and integration tests in parallel, then the end-to-end
# tests (real processes: meter-sim, mosquitto, the agent, the head-end) one at a time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build --skip EndToEndTests
swift test --skip-build --no-parallel --filter EndToEndTests

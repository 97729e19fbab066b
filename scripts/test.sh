#!/usr/bin/env bash
# Runs every test: installs missing dependencies, builds everything (including the executables the
# end-to-end tests start), then runs unit, integration and end-to-end tests (real processes:
# meter-sim, mosquitto, the agent, the head-end, tmux). One at a time: many tests measure line timing,
# reconnect delays and keepalives, which parallel suites on two cores would distort.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --build-tests
swift test --skip-build --no-parallel

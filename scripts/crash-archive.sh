#!/usr/bin/env bash
# kill -9 the archive's crash writer at random moments, N times (default 1000), then verify the archive:
# PRAGMA integrity_check ok, no interval stored twice or half, everything logged as archived present,
# counters persisted before use, outbox entries kept. See Docs/archive.md ("Crash safety").
#
#   scripts/crash-archive.sh [kills]          ARCHIVE_BENCH=path/to/archive-bench to pick a binary
set -euo pipefail

kills=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${ARCHIVE_BENCH:-$root/.build/debug/archive-bench}
if [[ ! -x $bin ]]; then
    echo "crash-archive: $bin is missing; build it first: swift build --product archive-bench" >&2
    exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/crash-archive-XXXXXX")
echo "crash-archive: $kills kills, working in $work" >&2

started=$SECONDS
for ((i = 1; i <= kills; i++)); do
    "$bin" --crash-writer "$work/state" "$work/archived.log" 2>>"$work/writer.err" &
    pid=$!
    sleep "0.$(printf '%03d' $((RANDOM % 240 + 10)))"
    if ! kill -9 "$pid" 2>/dev/null; then
        echo "crash-archive: the writer exited by itself after $i runs; see $work/writer.err" >&2
        exit 1
    fi
    wait "$pid" 2>/dev/null || true
    if ((i % 100 == 0)); then echo "crash-archive: $i kills ($((SECONDS - started)) s)" >&2; fi
done

if "$bin" --crash-check "$work/state" "$work/archived.log"; then
    rm -rf "$work"
    echo "crash-archive: ok after $kills kills in $((SECONDS - started)) s" >&2
else
    echo "crash-archive: FAILED; the archive and log are kept in $work" >&2
    exit 1
fi

#!/usr/bin/env bash
# Regenerates Docs/concentrator.1 (the manual page the Debian package installs) from the CLI's own
# help, with swift-argument-parser's generate-manual tool. Run it after changing commands or
# options (`make manual`); a test fails while the page misses a subcommand.
#
#   scripts/make-manual.sh [path/to/concentrator]      (default: .build/debug/concentrator)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
binary=${1:-$root/.build/debug/concentrator}
find_tool() { find "$root/.build" -type f -perm -u+x \( -name generate-manual -o -name generate-manual-tool \) -path '*/debug/*' 2>/dev/null | head -1; }
tool=$(find_tool)
if [[ -z $tool ]]; then
    # The plugin builds the tool (and, as a side effect, every product in release mode).
    (cd "$root" && swift package plugin generate-manual >/dev/null)
    tool=$(find_tool)
fi
if [[ -z $tool || ! -x $binary ]]; then
    echo "make-manual: need $binary (swift build) and the generate-manual tool" >&2
    exit 2
fi
date=$(date -u -d "@$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)" +%F)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$tool" "$binary" --date "$date" --authors "concentrator maintainers" --output-directory "$work"
install -m 0644 "$work/concentrator.1" "$root/Docs/concentrator.1"
echo "wrote Docs/concentrator.1"

# Resident-memory sampling shared by the footprint benchmarks (sourced, not run).
#
#   sample_rss PID SECONDS ERRFILE   watches PID for SECONDS (every 5 s; exits 1 with ERRFILE's tail
#                                    if it dies) and sets max_settled_kb: the highest VmRSS seen once
#                                    the first idle-page release is past (60 s after start)
#   proc_status_kb PID FIELD         one /proc/PID/status field in kB (VmRSS, VmHWM, RssAnon, …)

proc_status_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

sample_rss() {
  local pid=$1 seconds=$2 errfile=$3 start now_kb
  start=$(date +%s)
  max_settled_kb=0
  while [ $(( $(date +%s) - start )) -lt "$seconds" ]; do
    sleep 5
    kill -0 "$pid" || { echo "agent died: $(tail -5 "$errfile")" >&2; exit 1; }
    if [ $(( $(date +%s) - start )) -ge 60 ]; then
      now_kb=$(proc_status_kb "$pid" VmRSS)
      if [ "$now_kb" -gt "$max_settled_kb" ]; then max_settled_kb=$now_kb; fi
    fi
  done
  return 0  # the loop's status is its last test's; under set -e a caller would stop on it
}

# footprint_setup NAME [BIN_DIR]: sets `bin` (BIN_DIR, or .build/release after building concentrator
# and meter-sim there) and `work` (a temporary directory removed, with every background job killed, on exit).
footprint_setup() {
  bin=${2:-}
  if [ -z "$bin" ]; then
    swift build -c release --product concentrator >/dev/null
    swift build -c release --product meter-sim >/dev/null
    bin=.build/release
  fi
  work=$(mktemp -d "/tmp/$1-XXXXXX")
  trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
}

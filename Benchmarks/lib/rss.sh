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
      [ "$now_kb" -gt "$max_settled_kb" ] && max_settled_kb=$now_kb
    fi
  done
}

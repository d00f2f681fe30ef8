#!/bin/bash
# Logins per second through the same FreeRADIUS, ours vs Debian's l2tpns
# 2.4.1, with the same startup-config and the same load generator, in one
# run, each LNS alone in the namespace while it is measured.
#
#   benches/logins-vs-l2tpns.sh [SESSIONS...]      (default: 100 1000 5000)
#
# Needs root, l2tpns, freeradius; builds our release binaries. Prints one
# line per LNS and session count, then the ratios. Docs/PERFORMANCE.md
# records what it printed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
COUNTS=("$@"); [ ${#COUNTS[@]} -gt 0 ] || COUNTS=(100 1000 5000)
MAX=0; for n in "${COUNTS[@]}"; do [ "$n" -gt "$MAX" ] && MAX=$n; done
command -v /usr/sbin/l2tpns >/dev/null || { echo "apt-get install l2tpns" >&2; exit 1; }
command -v freeradius >/dev/null || { echo "apt-get install freeradius freeradius-utils" >&2; exit 1; }
NS=pa-bench$$
RUN=$(mktemp -d /tmp/l2tpns-bench.XXXXXX)
SECRET=bench-radius-s3cret
LNS_PID=""; FR_PID=""
# shellcheck source=contrib/bench-common.sh
. "$ROOT/contrib/bench-common.sh"
bench_build
stop_lns() { stop_pid "$LNS_PID" QUIT 300; LNS_PID=""; }
cleanup() {
  stop_lns
  [ -n "$FR_PID" ] && kill "$FR_PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT

bench_netns "$NS"

# FreeRADIUS: private config, users user1..userMAX, signed replies.
# shellcheck source=contrib/freeradius-fixture.sh
. "$ROOT/contrib/freeradius-fixture.sh"
fr_prepare "$RUN" "$SECRET" "$MAX" pw no
fr_start "$NS" "$RUN"

# One startup-config for both (the l2tpns-only variables are accepted by ours).
bench_etc "$RUN/etc" "$SECRET" 10.208.0.0/16
echo "set allow_duplicate_users no" >> "$RUN/etc/startup-config"

measure() {  # NAME N -> "rate setup_s"
  local name=$1 n=$2 tunnels
  tunnels=$(( n < 10 ? 1 : 10 ))
  local out
  # One thread, hence one UDP source port, per tunnel: l2tpns conflates
  # simultaneous SCCRQs from one address:port (it takes one per retransmission).
  out=$(ip netns exec "$NS" "$LOADGEN" --tunnels "$tunnels" --threads "$tunnels" --sessions "$n" --auth pap --password pw \
        --concurrency "$n" --pings 1 --timeout 300 --expect-dns 10.200.0.53,10.200.0.54 | tail -1)
  echo "RESULT lns=$name sessions=$n $(echo "$out" | grep -o ' up=[0-9]*') $(echo "$out" | grep -o 'setup_s=[0-9.]* rate_per_s=[0-9]*') $(echo "$out" | grep -o 'result=[A-Z]*')"
}

declare -A RATE
run_lns() {  # NAME START-COMMAND READY-PATTERN
  local name=$1 cmd=$2 ready=$3
  start_lns "$NS" "$RUN/$name.log" "$cmd"
  wait_lns_ready "$NS" "$RUN/$name.log" "$ready" || { echo "$name did not get ready"; tail "$RUN/$name.log"; exit 1; }
  for n in "${COUNTS[@]}"; do
    line=$(measure "$name" "$n"); echo "$line"
    RATE[$name,$n]=$(echo "$line" | grep -o 'rate_per_s=[0-9]*' | cut -d= -f2)
    sleep 2
  done
  stop_lns
}

# l2tpns first: it serves nothing until it is cluster master (~15 s).
run_lns l2tpns "$(l2tpns_command "$RUN/etc")" "$L2TPNS_READY"
run_lns ours "exec $OURS -c $RUN/etc/startup-config" udp1701

for n in "${COUNTS[@]}"; do
  a=${RATE[ours,$n]:-0}; b=${RATE[l2tpns,$n]:-0}
  if [ "$b" -gt 0 ]; then ratio=$(echo "scale=2; $a / $b" | bc); else ratio=inf; fi
  echo "LOGINS sessions=$n ours_per_s=$a l2tpns_per_s=$b ratio=$ratio"
done

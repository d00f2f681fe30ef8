#!/bin/bash
# Data-plane packets per second and CPU per packet, upstream (LAC -> TUN)
# and downstream (TUN -> LAC), for several data_workers / data_batch
# settings. Docs/PERFORMANCE.md ("Data-plane workers") records what it printed.
#
#   benches/workers.sh [WORKERS:BATCH ...]     (default: 1:0 1:32 2:0 2:32)
#   SECONDS_PER_RUN=10 SESSIONS=100 FLOWS=8 SIZE=64 benches/workers.sh
#   LNS=/path/to/other/l2tpns benches/workers.sh base   (a build without
#       the data_workers/data_batch variables, e.g. the old 2-thread plane)
#
# In a private namespace: our daemon, the load generator bringing SESSIONS
# sessions up in one tunnel and holding them (tunnel id 1, session ids
# 1..SESSIONS on a fresh daemon), then benches/l2tp-blast.c sends IP_SIZE-byte
# IPv4/UDP packets as fast as it can for SECONDS_PER_RUN: upstream as L2TP
# data messages from FLOWS raw sockets, all as from the load generator's
# port (the LNS takes a tunnel's data only from its LAC's address and port;
# the reuseport program spreads sessions over the workers), downstream as
# UDP to the sessions' addresses from FLOWS sockets. pps = the daemon's up_packets/down_packets delta; CPU = its
# utime+stime delta from /proc/PID/stat (all threads; on loopback the
# receiving side of our sends is charged to us too). The generator runs on
# the same machine and competes for the cores.
# Needs root and a C compiler; builds our release binaries.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SPECS=("$@"); [ ${#SPECS[@]} -gt 0 ] || SPECS=(1:0 1:32 2:0 2:32)
SECS=${SECONDS_PER_RUN:-10}
SESSIONS=${SESSIONS:-100}
FLOWS=${FLOWS:-8}
SIZE=${SIZE:-64}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
if [ -z "${LNS:-}" ]; then
  cargo build --release --bins >/dev/null 2>&1 || cargo build --release --bins
  LNS=$TARGET/release/l2tpns
fi
LOADGEN=${LOADGEN:-$TARGET/release/l2tpns-loadgen}
RUN=$(mktemp -d /tmp/l2tw-bench.XXXXXX)
cc -O2 -o "$RUN/l2tp-blast" benches/l2tp-blast.c
NS=pa-wk$$
LNS_PID=""; LG_PID=""
stop_all() {
  [ -n "$LG_PID" ] && { kill -CONT "$LG_PID" 2>/dev/null; kill -KILL "$LG_PID" 2>/dev/null || true; }
  if [ -n "$LNS_PID" ] && kill -0 "$LNS_PID" 2>/dev/null; then
    kill -QUIT "$LNS_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$LNS_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$LNS_PID" 2>/dev/null || true
  fi
  LNS_PID=""; LG_PID=""
}
cleanup() { stop_all; ip netns del "$NS" 2>/dev/null || true; rm -rf "$RUN"; }
trap cleanup EXIT

ip netns add "$NS"
nsx() { ip netns exec "$NS" "$@"; }
nsx ip link set lo up
nsx sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
nsx ip route add blackhole 10.250.0.0/16

for i in $(seq 1 "$SESSIONS"); do printf 'user%s * "pw" *\n' "$i"; done > "$RUN/ppp-secrets"
echo 10.100.0.0/20 > "$RUN/ip_pool"

# The status line's field NAME (SIGUSR1, then the newest status line).
status() {
  local before; before=$(grep -c ' status ' "$RUN/lns.log" || true)
  kill -USR1 "$LNS_PID"
  for _ in $(seq 1 100); do
    [ "$(grep -c ' status ' "$RUN/lns.log" || true)" -gt "$before" ] && break; sleep 0.05
  done
  grep ' status ' "$RUN/lns.log" | tail -1
}
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$LNS_PID/stat"; }
HZ=$(getconf CLK_TCK)

printf '%-8s %-5s %-5s %12s %8s %12s\n' config dir flows pps "cpu%" "cpu-us/pkt"
for spec in "${SPECS[@]}"; do
  w=${spec%%:*}; b=${spec##*:}
  extra=""
  [ "$spec" != base ] && extra="set data_workers $w
set data_batch $b"
  cat > "$RUN/startup-config" <<EOF
set debug 3
set tundevicename "l2tw0"
set iftun_address 10.99.0.1
set ppp_secrets_file "ppp-secrets"
set disable_no_spoof yes
set radius_authtypes "chap,pap"
$extra
EOF
  : > "$RUN/lns.log"
  ip netns exec "$NS" "$LNS" -c "$RUN/startup-config" >"$RUN/lns.log" 2>&1 &
  LNS_PID=$!
  for _ in $(seq 1 100); do grep -q 'listening for L2TP' "$RUN/lns.log" && break; sleep 0.1; done
  ip netns exec "$NS" "$LOADGEN" --server 127.0.0.1:1701 --sessions "$SESSIONS" --tunnels 1 --password pw \
    --pings 0 --hold 600 --verbose >"$RUN/lg.out" 2>"$RUN/lg.err" &
  LG_PID=$!
  for _ in $(seq 1 300); do grep -q HOLDING "$RUN/lg.err" && break; sleep 0.1; done
  grep -q HOLDING "$RUN/lg.err" || { echo "sessions did not come up" >&2; cat "$RUN/lg.err" "$RUN/lns.log" >&2; exit 1; }
  sed -n 's/^SESSION .* ip=\([0-9.]*\) .*/\1/p' "$RUN/lg.err" > "$RUN/addrs"
  # The LAC's UDP port (the load generator's socket to 1701): the LNS takes
  # tunnel 1's data only from there.
  lac_port=$(nsx ss -Hunp | awk '/l2tpns-loadgen/ { for (i = 2; i <= NF; i++) if ($i ~ /:1701$/) { n = split($(i - 1), a, ":"); print a[n]; exit } }')
  [ -n "$lac_port" ] || { echo "no load generator socket" >&2; nsx ss -Hunp >&2; exit 1; }
  for dir in up down; do
    [ "$dir" = down ] && kill -STOP "$LG_PID"
    st0=$(status); c0=$(cpu_ticks)
    if [ "$dir" = up ]; then
      nsx "$RUN/l2tp-blast" up 127.0.0.1 1 "$SESSIONS" "$FLOWS" "$SECS" "$SIZE" "$lac_port" >/dev/null
    else
      nsx "$RUN/l2tp-blast" down "$RUN/addrs" "$FLOWS" "$SECS" "$SIZE" >/dev/null
    fi
    st1=$(status); c1=$(cpu_ticks)
    [ "$dir" = down ] && kill -CONT "$LG_PID"
    n0=$(field "${dir}_packets" "$st0"); n1=$(field "${dir}_packets" "$st1")
    pk=$(( n1 - n0 )); ticks=$(( c1 - c0 ))
    awk -v c="$spec" -v d="$dir" -v f="$FLOWS" -v p="$pk" -v t="$ticks" -v s="$SECS" -v hz="$HZ" 'BEGIN {
      printf "%-8s %-5s %-5s %12.0f %8.0f %12.2f\n", c, d, f, p / s, 100 * t / hz / s, (p > 0 ? 1e6 * t / hz / p : 0) }'
  done
  grep -o 'data plane: .*' "$RUN/lns.log" | head -1 >&2 || true
  stop_all
done

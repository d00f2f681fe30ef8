#!/bin/bash
# Bulk TCP through one session, ours vs Debian's l2tpns 2.4.1: the LNS's CPU
# seconds per GB moved and Gbit/s per LNS core, upstream and downstream.
# iperf3 runs through one L2TP session: `l2tpns-loadgen --tun` (the LAC and
# PPP client) bridges the session to a TUN device in a client namespace,
# the iperf3 server listens on the LNS's TUN address in the LNS namespace.
# One run, each LNS alone while measured (l2tpns first), same FreeRADIUS,
# pool and commands. Ours runs twice: with offloads (the default) and with
# `set data_offload no`, one data-plane worker each time.
#
#   benches/tcp-vs-l2tpns.sh
#   DURATION=10 ROUNDS=2 benches/tcp-vs-l2tpns.sh
#
# Placement (2 cores): the LNS on CPU 1 (all threads), everything else
# (iperf3 both ends, the load generator, FreeRADIUS) on CPU 0. The
# generator side does one TUN read or write and one UDP send or receive
# per packet, so it, not the LNS, limits the rate: the LNS's CPU per GB is
# the comparable figure; Gbit/s per LNS core = rate / LNS CPU share.
# Needs root, l2tpns, freeradius, iperf3; builds our release binaries.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
LNS_CPU=${LNS_CPU:-1}
GEN_CPU=${GEN_CPU:-0}
CONFIGS=${CONFIGS:-l2tpns ours ours-nooffload}
for c in /usr/sbin/l2tpns freeradius iperf3; do
  command -v "$c" >/dev/null || { echo "missing $c (apt-get install l2tpns freeradius freeradius-utils iperf3)" >&2; exit 1; }
done
cargo build --release --bins >/dev/null 2>&1 || cargo build --release --bins
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OURS=$TARGET/release/l2tpns
LOADGEN=$TARGET/release/l2tpns-loadgen
NS=pa-tcp$$
CNS=pa-tcpc$$
RUN=$(mktemp -d /tmp/l2tpns-tcp.XXXXXX)
SECRET=bench-radius-s3cret
TUN_ADDR=10.200.0.1
LNS_PID=""; FR_PID=""; LG_PID=""
# shellcheck source=contrib/bench-common.sh
. "$ROOT/contrib/bench-common.sh"
cleanup() {
  stop_pid "$LG_PID"; stop_pid "$LNS_PID"
  [ -n "$FR_PID" ] && kill "$FR_PID" 2>/dev/null || true
  ip netns del "$CNS" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  echo "logs kept in $RUN" >&2
}
trap cleanup EXIT

bench_netns "$NS"
ip netns add "$CNS"
ip netns exec "$CNS" ip link set lo up
# The LAC's link to the LNS.
ip netns exec "$NS" ip link add pa-lns0 type veth peer name pa-lac0 netns "$CNS"
ip netns exec "$NS" ip addr add 192.168.200.1/30 dev pa-lns0
ip netns exec "$NS" ip link set pa-lns0 up
ip netns exec "$CNS" ip addr add 192.168.200.2/30 dev pa-lac0
ip netns exec "$CNS" ip link set pa-lac0 up
# The LAC stands for another machine: what its kernel does with the
# datagrams it receives runs on the generator's CPU (RPS), not in the LNS's
# context, where a veth would otherwise run it (and charge it to the LNS).
# What arrives at the LNS's end is processed on the LNS's CPU, as a NIC's
# interrupts on the LNS's cores would be.
ip netns exec "$CNS" sh -c "printf '%x' $(( 1 << GEN_CPU )) > /sys/class/net/pa-lac0/queues/rx-0/rps_cpus"
ip netns exec "$NS" sh -c "printf '%x' $(( 1 << LNS_CPU )) > /sys/class/net/pa-lns0/queues/rx-0/rps_cpus"

# shellcheck source=contrib/freeradius-fixture.sh
. "$ROOT/contrib/freeradius-fixture.sh"
fr_prepare "$RUN" "$SECRET" 1 pw no
fr_start "$NS" "$RUN" taskset -c "$GEN_CPU"

for d in l2tpns ours ours-nooffload; do bench_etc "$RUN/etc-$d" "$SECRET" 10.208.0.0/24; done
echo "set data_workers 1" >> "$RUN/etc-ours/startup-config"
printf 'set data_workers 1\nset data_offload no\n' >> "$RUN/etc-ours-nooffload/startup-config"
# OURS_EXTRA: more config lines for both of ours, e.g. "set data_coalesce_usecs 0".
[ -n "${OURS_EXTRA:-}" ] && for d in ours ours-nooffload; do printf '%b\n' "$OURS_EXTRA" >> "$RUN/etc-$d/startup-config"; done

# Busy ticks of one CPU (everything but idle and iowait), from /proc/stat:
# the LNS's core, including kernel work on the LNS's behalf that is not
# charged to its process (softirqs that ran while it slept).
core_ticks() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
HZ=$(getconf CLK_TCK)

start_session() {  # NAME: the LNS, then one session through it
  local name=$1 cmd ready
  if [ "$name" = l2tpns ]; then
    cmd=$(l2tpns_command "$RUN/etc-l2tpns"); ready=$L2TPNS_READY
  else
    cmd="exec $OURS -c $RUN/etc-$name/startup-config"; ready=udp1701
  fi
  start_lns "$NS" "$RUN/$name.log" "$cmd" "$LNS_CPU"
  wait_lns_ready "$NS" "$RUN/$name.log" "$ready" || { echo "$name did not get ready"; tail "$RUN/$name.log"; exit 1; }
  sleep 1
  taskset -a -p -c "$LNS_CPU" "$LNS_PID" > /dev/null
  echo "LNS lns=$name pid=$LNS_PID comm=$(cat /proc/$LNS_PID/comm) threads=$(ls /proc/$LNS_PID/task | wc -l)"
  # The session: the load generator bridges it to a TUN in the client namespace.
  ip netns exec "$CNS" taskset -c "$GEN_CPU" "$LOADGEN" --server 192.168.200.1:1701 --sessions 1 \
      --auth pap --password pw --tun l2tc0 --hold 3600 > "$RUN/$name.lg.out" 2> "$RUN/$name.lg.err" &
  LG_PID=$!
  for _ in $(seq 1 300); do grep -q '^TUN ' "$RUN/$name.lg.err" && break; kill -0 "$LG_PID" || break; sleep 0.1; done
  grep -q '^TUN ' "$RUN/$name.lg.err" || { echo "no session through $name"; cat "$RUN/$name.lg.err"; exit 1; }
}

declare -A CPG KPG RATE
# iperf NAME DIR ROUND: DIR up (client -> LNS side) or down (-R).
iperf() {
  local name=$1 dir=$2 round=$3 tag="$1-$2-$3" rev=()
  [ "$dir" = down ] && rev=(-R)
  ip netns exec "$NS" taskset -c "$GEN_CPU" iperf3 -s -1 -B "$TUN_ADDR" > /dev/null 2>&1 &
  local srv=$!
  sleep 0.5
  local c0 c1 k0 k1; c0=$(cpu_ticks "$LNS_PID"); k0=$(core_ticks "$LNS_CPU")
  ip netns exec "$CNS" taskset -c "$GEN_CPU" timeout $(( DURATION + 30 )) iperf3 -c "$TUN_ADDR" -t "$DURATION" -J "${rev[@]}" > "$RUN/$tag.json" 2>&1 || true
  c1=$(cpu_ticks "$LNS_PID"); k1=$(core_ticks "$LNS_CPU")
  wait "$srv" 2>/dev/null || true
  local bytes secs retr
  bytes=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(d["end"]["sum_received"]["bytes"]))' "$RUN/$tag.json" 2>/dev/null || echo 0)
  secs=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["end"]["sum_received"]["seconds"])' "$RUN/$tag.json" 2>/dev/null || echo 0)
  retr=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["end"]["sum_sent"].get("retransmits", 0))' "$RUN/$tag.json" 2>/dev/null || echo -)
  local cpu core; cpu=$(echo "scale=4; ($c1 - $c0) / $HZ" | bc); core=$(echo "scale=4; ($k1 - $k0) / $HZ" | bc)
  local gbps=0 cpg=- kpg=- per_core=-
  if [ "$bytes" -gt 0 ]; then
    gbps=$(echo "scale=3; $bytes * 8 / $secs / 1000000000" | bc)
    cpg=$(echo "scale=3; $cpu * 1000000000 / $bytes" | bc)
    kpg=$(echo "scale=3; $core * 1000000000 / $bytes" | bc)
    [ "$(echo "$core > 0" | bc)" = 1 ] && per_core=$(echo "scale=2; $gbps / ($core / $secs)" | bc)
  fi
  echo "RESULT lns=$name dir=$dir round=$round bytes=$bytes seconds=$secs gbit_s=$gbps retransmits=$retr" \
       "lns_cpu_s=$cpu lns_cpu_s_per_gb=$cpg core_busy_s=$core core_s_per_gb=$kpg gbit_s_per_lns_core=$per_core"
  CPG[$name,$dir,$round]=$cpg
  KPG[$name,$dir,$round]=$kpg
  RATE[$name,$dir,$round]=$gbps
}

for name in $CONFIGS; do
  start_session "$name"
  for round in $(seq 1 "$ROUNDS"); do
    for dir in down up; do iperf "$name" "$dir" "$round"; sleep 1; done
  done
  stop_pid "$LG_PID"; LG_PID=""
  stop_pid "$LNS_PID"; LNS_PID=""
  sleep 1
done

for dir in down up; do
  for round in $(seq 1 "$ROUNDS"); do
    b=${CPG[l2tpns,$dir,$round]:--}
    for name in ours ours-nooffload; do
      a=${CPG[$name,$dir,$round]:--}
      r=-; if [ "$a" != - ] && [ "$b" != - ]; then r=$(echo "scale=2; $a / $b" | bc); fi
      verdict=""
      [ "$name" = ours ] && [ "$r" != - ] && { verdict=MISS; [ "$(echo "$r <= 0.333" | bc)" = 1 ] && verdict=MET; verdict="target<=0.33 $verdict"; }
      echo "RATIO cpu_s_per_gb dir=$dir round=$round $name=$a l2tpns=$b $name/l2tpns=$r $verdict"
      a=${KPG[$name,$dir,$round]:--}; b2=${KPG[l2tpns,$dir,$round]:--}
      r=-; if [ "$a" != - ] && [ "$b2" != - ]; then r=$(echo "scale=2; $a / $b2" | bc); fi
      echo "RATIO core_s_per_gb dir=$dir round=$round $name=$a l2tpns=$b2 $name/l2tpns=$r"
    done
  done
done

#!/bin/bash
# Data plane, ours vs Debian's l2tpns 2.4.1: LNS CPU seconds per million
# forwarded packets at a fixed rate (below saturation, zero loss expected),
# and the flat-out rate, with 1,000 sessions, 64- and 1400-byte UDP packets,
# upstream and downstream. One run, each LNS alone in the namespace while it
# is measured (l2tpns first), the same pool, RADIUS and load generator
# commands for both. Ours runs one data-plane worker (`set data_workers 1`).
#
#   benches/dataplane-vs-l2tpns.sh
#   RATE=50000 DURATION=10 SESSIONS=1000 SIZES="64 1400" DIRS="up down" FLAT=1 \
#       benches/dataplane-vs-l2tpns.sh
#
# Placement (2 cores): the LNS on CPU 1, everything else (load generator,
# sink, source, FreeRADIUS) on CPU 0, with taskset. Upstream: the load
# generator's sessions send UDP to a sink bound to the LNS's TUN address.
# Downstream: `l2tpns-loadgen source` in the namespace sends to the session
# addresses; the load generator counts what arrives. The LNS's CPU is
# utime+stime of its process (all threads) from /proc/PID/stat over the
# traffic phase (`--lns-pid`), so PID must be the daemon itself: every
# process in the start chain execs.
#
# Needs root, l2tpns, freeradius; builds our release binaries. Prints one
# RESULT line per (lns, mode, direction, size), one IDLE line per LNS, then
# RATIO lines (REPEAT=N: each case N times in a row, the RATIO lines from
# the median machine and receiver figures). pps/loss are end to end (what the sink or the load generator
# counted); lns_out counts also what the kernel dropped at their sockets,
# i.e. what the LNS itself delivered (the meaningful flat-out figure). Docs/PERFORMANCE.md records what it printed.
#
# SESSIONS=100000 POOL=10.208.0.0/14 L2TPNS=0: the 100,000-session runs
# (l2tpns left out; the default pool holds 65,534 addresses).
# EXTRA_CONFIG="set echo_timeout 300": both daemons' keepalives every 300 s
# instead of 10 (at 100,000 sessions, 333 LCP echoes a second, not 10,000).
#
# DATA_PATHS (default "userspace bpf"): ours runs once per data_path; the
# kernel fast path's run is named ours-bpf (Docs/FASTPATH.md). The fast
# path's work is done in softirq context, not in the daemon's process, so
# at a fixed rate every case also reports the WHOLE MACHINE's busy CPU per
# packet offered over the middle of the traffic phase (machine_us_per_pkt:
# the CPUs' wall time minus their idle time, which NO_HZ measures exactly;
# /proc/stat's busy columns are tick samples and misread this load), and GENERATOR_ONLY=1 (the default) adds a run named
# generator: the same load against our daemon stopped with SIGSTOP during
# the traffic, so the kernel drops the packets at its full socket or TUN
# queue. An LNS's own share is its machine figure minus the generator's
# (RATIO lns_share lines).
#
# The receivers (the sink upstream, the load generator downstream) read
# every RX_INTERVAL_US µs (default 1000; 0: on each arrival), so what they
# cost does not depend on how an LNS batches its sends: the fast path hands
# on each packet alone, a userspace LNS in sendmmsg/write bursts. The
# generator run also measures a wire: `l2tpns-loadgen source` sending the
# same rate and size straight to the sink, no LNS between. An LNS's cost
# over the wire (machine figure minus the wire's) leaves out both the
# generator and the receiver (RATIO lns_added lines, downstream, where
# the wire's source is the generator itself). Each case also measures the
# receiver's own CPU (receiver_us_per_pkt: its threads' exact run time
# from schedstat); RATIO lns_own lines take that from each LNS's share
# too, both ways: on a network the receivers (the sink, the LAC) are
# other hosts. The IDLE line also gives the whole machine's load with
# every session up and no traffic (keepalives: 10,000 LCP echoes a second
# at 100,000 sessions), as µs per packet at RATE: the generator-only run
# (its LNS stopped) has none of it, so at 100,000 sessions it sits inside
# every share, as far as the traffic does not suppress the echoes
# (downstream traffic does not, as in l2tpns: RATIO
# lns_per_pkt_less_holding_us lines give the downstream shares less it).
#
# THROTTLE_KBPS=N (unset: none of this): both daemons load the autothrottle
# plugin, and every case runs twice on the same daemon, interleaved: users
# user1..userN (no policy), then tuser1..tuserN, whom FreeRADIUS gives
# Cisco-AVPair "throttle=N" (kbit/s both ways, l2tpns's unit). Pick N so it
# does not bind (at RATE=50000 a session offers 50 pps), so the difference is
# the cost of the buckets alone. Each RESULT line then says throttle_kbps=
# (0 or N) and throttled_sessions= (throttled at N both ways, per the CLI's
# `show throttle` on 127.0.0.1:23 during the traffic), and THROTTLE and
# RATIO throttle_cost lines follow (CPU per packet; flat out: per packet
# the LNS delivered).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SESSIONS=${SESSIONS:-1000}
RATE=${RATE:-50000}
DURATION=${DURATION:-10}
SIZES=${SIZES:-64 1400}
DIRS=${DIRS:-up down}
FLAT=${FLAT:-1}
LOGIN_CONCURRENCY=${LOGIN_CONCURRENCY:-40}
LNS_CPU=${LNS_CPU:-1}
GEN_CPU=${GEN_CPU:-0}
# The downstream source's CPU (default GEN_CPU). The fast path's work runs
# in the context of whoever sends into the TUN: the source.
SRC_CPU=${SRC_CPU:-$GEN_CPU}
# Where downstream traffic (and the wire's) enters: "tun" (default), the
# source writes it into a TUN device of its own and the kernel forwards it
# as it does a NIC's traffic, with a NIC's 64 bytes of headroom; "socket",
# it is the host's own, from a UDP socket, with the 16 bytes the LNS's TUN
# asks for, so the fast path reallocates every packet to push its headers
# (the figures before 2026-12-03 14:00).
DOWN_VIA=${DOWN_VIA:-tun}
case $DOWN_VIA in
  tun) SRC_VIA=(--via-tun lgsrc0) ;;
  socket) SRC_VIA=() ;;
  *) echo "DOWN_VIA is tun or socket" >&2; exit 1 ;;
esac
THROTTLE_KBPS=${THROTTLE_KBPS:-}
DATA_PATHS=${DATA_PATHS:-userspace bpf}
GENERATOR_ONLY=${GENERATOR_ONLY:-1}
RX_INTERVAL_US=${RX_INTERVAL_US:-1000}
REPEAT=${REPEAT:-1}
command -v /usr/sbin/l2tpns >/dev/null || { echo "apt-get install l2tpns" >&2; exit 1; }
command -v freeradius >/dev/null || { echo "apt-get install freeradius freeradius-utils" >&2; exit 1; }
NS=pa-dp$$
RUN=$(mktemp -d /tmp/l2tpns-dp.XXXXXX)
SECRET=bench-radius-s3cret
TUN_ADDR=10.200.0.1
SINK=$TUN_ADDR:9000
POOL=${POOL:-10.208.0.0/16}
TUNNELS=$(( SESSIONS < 10 ? 1 : 10 ))
LNS_PID=""; FR_PID=""; AUX_PIDS=()
# shellcheck source=contrib/bench-common.sh
. "$ROOT/contrib/bench-common.sh"
bench_build
# No shell function: a backgrounded command must exec, so that $! is its PID.
GEN=(ip netns exec "$NS" taskset -c "$GEN_CPU")
SRC=(ip netns exec "$NS" taskset -c "$SRC_CPU")
cleanup() {
  stop_aux
  stop_lns "$NS"
  [ -n "$FR_PID" ] && kill "$FR_PID" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  echo "logs kept in $RUN" >&2
}
trap cleanup EXIT

bench_netns "$NS"
echo "SETUP sessions=$SESSIONS rate=$RATE down_via=$DOWN_VIA"
# The load generator is a LAC on this host (127.0.0.1): the fast path
# delivers its downstream through lo (Docs/FASTPATH.md).
ip netns exec "$NS" sysctl -qw net.ipv4.conf.lo.forwarding=1 net.ipv4.conf.lo.accept_local=1 net.ipv4.conf.lo.route_localnet=1

# FreeRADIUS: private config, users user1..userN, signed replies.
# shellcheck source=contrib/freeradius-fixture.sh
. "$ROOT/contrib/freeradius-fixture.sh"
fr_prepare "$RUN" "$SECRET" "$SESSIONS" pw no
[ -z "$THROTTLE_KBPS" ] || fr_users tuser "$SESSIONS" pw "Cisco-AVPair = \"throttle=$THROTTLE_KBPS\"" \
  >> "$RUN/raddb/mods-config/files/authorize"
fr_start "$NS" "$RUN" taskset -c "$GEN_CPU"

# Two startup-configs differing only in `data_workers` (ours only).
for d in l2tpns ours; do
  bench_etc "$RUN/etc-$d" "$SECRET" "$POOL"
  echo "set allow_duplicate_users no" >> "$RUN/etc-$d/startup-config"
  # EXTRA_CONFIG: lines for both daemons' startup-config (e.g. "set
  # echo_timeout 300": fewer keepalives at 100,000 sessions).
  [ -z "${EXTRA_CONFIG:-}" ] || printf '%s\n' "$EXTRA_CONFIG" >> "$RUN/etc-$d/startup-config"
  [ -z "$THROTTLE_KBPS" ] || echo 'load plugin "autothrottle"' >> "$RUN/etc-$d/startup-config"
done
echo "set data_workers 1" >> "$RUN/etc-ours/startup-config"
for path in $DATA_PATHS; do
  [ "$path" = userspace ] && continue
  cp -r "$RUN/etc-ours" "$RUN/etc-ours-$path"
  echo "set data_path $path" >> "$RUN/etc-ours-$path/startup-config"
done
echo "set data_path userspace" >> "$RUN/etc-ours/startup-config"

# share A G: A - G (an LNS's own share of the machine), "-" unless numbers.
share() {
  if [[ $1 =~ ^-?[0-9.]+$ && $2 =~ ^-?[0-9.]+$ ]]; then echo "scale=3; $1 - $2" | bc; else echo -; fi
}
field() { { echo "$2" | grep -o "\b$1=[^ ]*" || true; } | head -1 | cut -d= -f2; }
# Kernel drop counters in the namespace. The flat-out runs overload the
# receivers on the generator's core (sink, load generator), so what they
# count is less than what the LNS delivered: add the datagrams the kernel
# dropped at their full sockets to get the LNS's own output.
udp_rcvbuf_errors() { ip netns exec "$NS" awk '/^Udp:/ && $2 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp; }
sock_drops() {  # hex local port -> drops summed over the sockets bound to it
  ip netns exec "$NS" awk -v p=":$1" 'NR > 1 && substr($2, length($2) - 4) == p { d += $NF } END { print d + 0 }' /proc/net/udp
}
tun_tx_dropped() { ip netns exec "$NS" cat /sys/class/net/patun0/statistics/tx_dropped; }

# Sessions the LNS's CLI lists as throttled at THROTTLE_KBPS both ways
# (`show throttle`: SID TID Username RateIn Out TBFI TBFO, ours and l2tpns).
# Asked up to 3 times while short of WANT: l2tpns's forked CLI has been
# seen to stop short under load.
throttled_sessions() {
  local want=$1 n=0
  for _ in 1 2 3; do
    n=$("${GEN[@]}" python3 "$ROOT/tests/data/cli_client.py" 127.0.0.1 23 "show throttle" 2>/dev/null |
      awk -v k="$THROTTLE_KBPS" '$1 ~ /^[0-9]+$/ && $(NF-3) == k && $(NF-2) == k { n++ } END { print n + 0 }')
    [ "$n" -ge "$want" ] && break
  done
  echo "$n"
}

declare -A CPM CPMO PPS LPPS MUS RXUS MUSL RXL IDLEM
# holding NAME: NAME's idle machine load (IDLE) as µs per packet at RATE.
holding() { [ -n "${IDLEM[$1]:-}" ] && echo "scale=3; ${IDLEM[$1]} * 1000000 / $RATE" | bc || echo -; }
# measure NAME MODE DIR SIZE [POLICY]; MODE is "rate" (RATE pps) or "flat"
# (flat out); POLICY "throttled" logs in the tuser sessions.
measure() {
  local name=$1 mode=$2 dir=$3 size=$4 policy=${5:-} tag="$1-$2-$3-$4${5:+-$5}"
  local speed=(--rate "$RATE"); [ "$mode" = flat ] && speed=(--flat-out)
  local users=(); [ "$policy" = throttled ] && users=(--user-pattern 'tuser%d')
  [ -z "$THROTTLE_KBPS" ] || users+=(--verbose)
  stop_aux
  local u0 l0 t0; u0=$(udp_rcvbuf_errors); l0=$(sock_drops 06A5); t0=$(tun_tx_dropped)
  local window=$(( DURATION > 4 ? DURATION - 3 : 1 )) sampler=""
  # A repeat writes files of the same names: remove the last one's first,
  # or a wait for its "TRAFFIC START" (or "SINK listening") could read the
  # old line before the new process has truncated the file, and the
  # sampling window would open during the logins.
  rm -f "$RUN/$tag".{busy,sink,out,err,src}
  if [ "$dir" = up ]; then
    "${GEN[@]}" "$LOADGEN" sink --bind "$SINK" --duration 3600 --rx-interval-us "$RX_INTERVAL_US" > "$RUN/$tag.sink" 2>&1 &
    AUX_PIDS+=($!)
    for _ in $(seq 1 50); do grep -q "SINK listening" "$RUN/$tag.sink" && break; sleep 0.1; done
  fi
  "${GEN[@]}" "$LOADGEN" --tunnels "$TUNNELS" --threads "$TUNNELS" --sessions "$SESSIONS" --auth pap --password pw \
      --concurrency "$LOGIN_CONCURRENCY" --pings 1 --timeout 300 --expect-dns 10.200.0.53,10.200.0.54 --traffic "$dir" "${speed[@]}" \
      --size "$size" --duration "$DURATION" --sink "$SINK" --lns-pid "$LNS_PID" --rx-interval-us "$RX_INTERVAL_US" "${users[@]}" \
      > "$RUN/$tag.out" 2> "$RUN/$tag.err" &
  local lg=$!
  local src="" throttle_fields=""
  until grep -qs 'TRAFFIC START' "$RUN/$tag.err"; do
    kill -0 "$lg" 2>/dev/null || break; sleep 0.05
  done
  # Whole-machine CPU at a fixed rate, over the window from 1 s into the
  # traffic; and the receiver's own CPU (the sink up, the load generator
  # down): on a network it is another host.
  local rx_pid=$lg
  [ "$dir" = up ] && rx_pid=${AUX_PIDS[-1]}
  if [ "$mode" = rate ]; then
    machine_busy "$window" "$rx_pid" > "$RUN/$tag.busy" & sampler=$!
  fi
  # The generator-only run: nobody reads the packets while the sampler
  # runs; the daemon goes on before the load generator hangs up.
  if [ "$name" = generator ]; then
    kill -STOP "$LNS_PID"
    ( sleep "$window.5"; kill -CONT "$LNS_PID" ) &
  fi
  # Asked in both policies, so both pay the same for the CLI's answer.
  if [ -n "$THROTTLE_KBPS" ]; then
    local kbps=0 want=0
    [ "$policy" = throttled ] && { kbps=$THROTTLE_KBPS; want=$SESSIONS; }
    throttle_fields=" throttle_kbps=$kbps throttled_sessions=$(throttled_sessions "$want")"
  fi
  if [ "$dir" = down ]; then
    # The tuser sessions are not given the pool's first addresses (both
    # LNSs keep a user's old address for it), so the source is told the
    # sessions' own (the verbose SESSION lines), for both policies alike.
    local to=$POOL
    [ -z "$THROTTLE_KBPS" ] || to=$(sed -n 's/^SESSION .* ip=\([0-9.]*\) .*/\1/p' "$RUN/$tag.err" | paste -sd,)
    "${SRC[@]}" "$LOADGEN" source "${SRC_VIA[@]}" --to "$to" --sessions "$SESSIONS" "${speed[@]}" --size "$size" \
        --duration "$DURATION" > "$RUN/$tag.src" 2>&1 || true
    src=$(grep '^SOURCE' "$RUN/$tag.src" || true)
  fi
  wait "$lg" || true
  [ "$name" = generator ] && kill -CONT "$LNS_PID"
  local sinkdrops; sinkdrops=$(sock_drops 2328)
  # The sampler's window ended well before the traffic did.
  # The machine's busy CPU-seconds and the receiver's own, same window.
  local busy="" rxs=""
  [ -n "$sampler" ] && { wait "$sampler" 2>/dev/null || true; read -r busy rxs < "$RUN/$tag.busy" || true; }
  stop_aux
  local u1 l1 t1; u1=$(udp_rcvbuf_errors); l1=$(sock_drops 06A5); t1=$(tun_tx_dropped)
  local t s; t=$(grep '^TRAFFIC' "$RUN/$tag.out" || true); s=$(grep '^SUMMARY' "$RUN/$tag.out" || true)
  local sent recv pps lost
  if [ "$dir" = up ]; then
    sent=$(field up_sent "$t"); recv=$(field up_received "$t"); pps=$(field up_pps "$t")
  else
    sent=$(field sent "$src"); recv=$(field down_received "$t"); pps=$(field down_pps "$t")
  fi
  sent=${sent:-0}; recv=${recv:-0}; lost=$(( sent - recv ))
  # out: what the LNS handed on (received + dropped at the receiver's full
  # socket); in_drops: dropped before the LNS read it (its L2TP socket, or
  # its TUN queue).
  local out in_drops
  if [ "$dir" = up ]; then
    out=$(( recv + sinkdrops )); in_drops=$(( l1 - l0 ))
  else
    out=$(( recv + (u1 - u0) - (l1 - l0) )); in_drops=$(( t1 - t0 ))
  fi
  local pct=-; [ "$sent" -gt 0 ] && pct=$(echo "scale=3; 100 * $lost / $sent" | bc)
  local cpu cpm; cpu=$(field lns_cpu_s "$t"); cpm=$(field lns_cpu_s_per_mpkt "$t")
  local lns_pps=0 cpm_out=-
  lns_pps=$(( out / DURATION ))
  [ "$out" -gt 0 ] && [ -n "$cpu" ] && cpm_out=$(echo "scale=3; $cpu * 1000000 / $out" | bc)
  # Whole machine, per packet offered, at a fixed rate.
  local mus=- rxus=-
  [ -n "$busy" ] && mus=$(echo "scale=3; $busy * 1000000 / ($RATE * $window)" | bc)
  [ -n "$rxs" ] && rxus=$(echo "scale=3; $rxs * 1000000 / ($RATE * $window)" | bc)
  echo "RESULT lns=$name mode=$mode dir=$dir size=$size sessions_up=$(field up "$s") sent=$sent received=$recv" \
       "lost=$lost loss_pct=$pct pps=${pps:-0} reordered=$(field ${dir}_reordered "$t") lns_cpu_s=${cpu:--}" \
       "lns_cpu_s_per_mpkt=${cpm:--} lns_out=$out lns_in_drops=$in_drops lns_out_pps=$lns_pps" \
       "lns_cpu_s_per_mpkt_out=$cpm_out machine_busy_s=${busy:--} machine_us_per_pkt=$mus receiver_us_per_pkt=$rxus result=$(field result "$s")$throttle_fields"
  local key=$name${policy:+-$policy}
  CPM[$key,$mode,$dir,$size]=${cpm:-0}
  CPMO[$key,$mode,$dir,$size]=$cpm_out
  PPS[$key,$mode,$dir,$size]=${pps:-0}
  LPPS[$key,$mode,$dir,$size]=$lns_pps
  MUSL[$key,$mode,$dir,$size]+=" $mus"
  RXL[$key,$mode,$dir,$size]+=" $rxus"
  MUS[$key,$mode,$dir,$size]=$(median "${MUSL[$key,$mode,$dir,$size]}")
  RXUS[$key,$mode,$dir,$size]=$(median "${RXL[$key,$mode,$dir,$size]}")
}

# median "A B C": the median of the numbers among them, "-" if none.
median() {
  tr ' ' '\n' <<< "$1" | { grep -E '^[0-9.]+$' || true; } | sort -n |
    awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "-" }'
}

# measure_wire SIZE: the generator's rate and size sent by
# `l2tpns-loadgen source` straight to the sink (a local address, so lo),
# no LNS between; whole-machine CPU per packet as in measure.
measure_wire() {
  local size=$1 tag=wire-$1 window=$(( DURATION > 4 ? DURATION - 3 : 1 ))
  stop_aux
  "${GEN[@]}" "$LOADGEN" sink --bind "$SINK" --duration 3600 --rx-interval-us "$RX_INTERVAL_US" > "$RUN/$tag.sink" 2>&1 &
  AUX_PIDS+=($!)
  for _ in $(seq 1 50); do grep -q "SINK listening" "$RUN/$tag.sink" && break; sleep 0.1; done
  "${GEN[@]}" "$LOADGEN" source "${SRC_VIA[@]}" --to "$TUN_ADDR" --sessions 1 --port "${SINK##*:}" --rate "$RATE" --size "$size" \
      --duration "$DURATION" > "$RUN/$tag.src" 2>&1 &
  local src=$!
  local busy; busy=$(machine_busy "$window")
  wait "$src" || true
  stop_aux
  local mus; mus=$(echo "scale=3; $busy * 1000000 / ($RATE * $window)" | bc)
  echo "RESULT lns=wire mode=rate size=$size $(grep '^SOURCE' "$RUN/$tag.src" | cut -d' ' -f2) $(grep '^SINK' "$RUN/$tag.sink" | tail -1 | grep -o 'packets=[0-9]*')" \
       "machine_busy_s=$busy machine_us_per_pkt=$mus"
  MUS[wire,rate,$size]=$mus
}

# The LNS's own CPU with all sessions up and no traffic (timers, keepalives).
idle() {
  # The logins' aftermath (Accounting-Start for every session, through
  # FreeRADIUS) settles first: 1 s, and 1 s more per 10,000 sessions.
  local name=$1 hold=10 settle=$(( 1 + SESSIONS / 10000 ))
  "${GEN[@]}" "$LOADGEN" --tunnels "$TUNNELS" --threads "$TUNNELS" --sessions "$SESSIONS" --auth pap --password pw \
      --concurrency "$LOGIN_CONCURRENCY" --pings 1 --timeout 300 --expect-dns 10.200.0.53,10.200.0.54 \
      --hold $(( settle + hold + 3 )) > "$RUN/$name-idle.out" 2> "$RUN/$name-idle.err" &
  local lg=$!
  until grep -qs 'HOLDING' "$RUN/$name-idle.err"; do kill -0 "$lg" 2>/dev/null || break; sleep 0.05; done
  sleep "$settle"
  # The whole machine too: with every session up and no traffic it still
  # carries the keepalives (LCP echo both ways, 10,000 a second at
  # 100,000 sessions), which the generator-only run (LNS stopped) has not.
  # Sessions that logged in together echo together, in one burst every
  # echo_timeout (10 s): every figure is taken over the same 10 s, from
  # 1 s on (machine_busy's own start).
  machine_busy "$hold" > "$RUN/$name-idle.busy" &
  local sampler=$!
  sleep 1
  # cpu_pct is tick-sampled (the LNS's timers fire on ticks, so it reads
  # high); lns_cpus and lac_cpus are the threads' exact run time.
  local c0 c1 hz n0 n1 l0 l1
  c0=$(cpu_ticks "$LNS_PID"); n0=$(run_ns "$LNS_PID"); l0=$(run_ns "$lg")
  sleep $hold
  c1=$(cpu_ticks "$LNS_PID"); n1=$(run_ns "$LNS_PID"); l1=$(run_ns "$lg"); hz=$(getconf CLK_TCK)
  wait "$sampler" || true
  local busy; busy=$(cat "$RUN/$name-idle.busy")
  IDLEM[$name]=$(echo "scale=6; $busy / $hold" | bc)
  wait "$lg" || true
  echo "IDLE lns=$name sessions=$SESSIONS cpu_pct=$(echo "scale=2; 100 * ($c1 - $c0) / $hz / $hold" | bc)" \
       "lns_cpus=$(echo "scale=4; ($n1 - $n0) / 1000000000 / $hold" | bc) lac_cpus=$(echo "scale=4; ($l1 - $l0) / 1000000000 / $hold" | bc)" \
       "machine_busy_cpus=${IDLEM[$name]} machine_us_per_pkt_at_rate=$(holding "$name")"
}

run_lns() {  # NAME START-COMMAND READY-PATTERN [MODES]
  local name=$1 cmd=$2 ready=$3 only_modes=${4:-}
  start_lns "$NS" "$RUN/$name.log" "$cmd" "$LNS_CPU"
  wait_lns_ready "$NS" "$RUN/$name.log" "$ready" || { echo "$name did not get ready"; tail "$RUN/$name.log"; ip netns exec "$NS" ss -Hlunp; ip netns exec "$NS" ip link; exit 1; }
  sleep 1
  local before; before=$(for t in /proc/$LNS_PID/task/*; do awk '/Cpus_allowed_list/ {printf "%s ", $2}' "$t/status"; done)
  # Every thread on LNS_CPU, whatever the daemon did with its affinity.
  taskset -a -p -c "$LNS_CPU" "$LNS_PID" > /dev/null
  echo "LNS lns=$name pid=$LNS_PID comm=$(cat /proc/$LNS_PID/comm) threads=$(ls /proc/$LNS_PID/task | wc -l)" \
       "thread_cpus_before=[${before% }] now=$LNS_CPU"
  [ "$name" = generator ] || idle "$name"
  local modes=(rate); [ "$FLAT" = 1 ] && modes+=(flat)
  [ -n "$only_modes" ] && read -ra modes <<< "$only_modes"
  for mode in "${modes[@]}"; do
    for dir in $DIRS; do
      for size in $SIZES; do
        for _ in $(seq 1 "$REPEAT"); do
          measure "$name" "$mode" "$dir" "$size"
          sleep 1
        done
        if [ -n "$THROTTLE_KBPS" ]; then
          measure "$name" "$mode" "$dir" "$size" throttled
          sleep 1
        fi
      done
    done
  done
  if [ "$name" = generator ]; then
    kill -STOP "$LNS_PID"
    for size in $SIZES; do measure_wire "$size"; sleep 1; done
    kill -CONT "$LNS_PID"
  fi
  stop_lns "$NS"
}

# l2tpns first: it serves nothing until it is cluster master (~15 s).
# L2TPNS=0 leaves l2tpns out (its ceiling is 65,535 sessions).
[ "${L2TPNS:-1}" = 1 ] && run_lns l2tpns "$(l2tpns_command "$RUN/etc-l2tpns")" "$L2TPNS_READY"
for path in $DATA_PATHS; do
  if [ "$path" = userspace ]; then
    run_lns ours "exec $OURS -c $RUN/etc-ours/startup-config" udp1701
  else
    run_lns "ours-$path" "exec $OURS -c $RUN/etc-ours-$path/startup-config" udp1701
    grep -h "data path:" "$RUN/ours-$path.log" | sed 's/^/DATAPATH /' || true
  fi
done
[ "$GENERATOR_ONLY" = 1 ] && run_lns generator "exec $OURS -c $RUN/etc-ours/startup-config" udp1701 rate

modes=(rate); [ "$FLAT" = 1 ] && modes+=(flat)
declare -A v
for dir in $DIRS; do
  for size in $SIZES; do
    a=${CPM[ours,rate,$dir,$size]:-0}; b=${CPM[l2tpns,rate,$dir,$size]:-0}
    r=inf; [ "$(echo "$b > 0" | bc)" = 1 ] && r=$(echo "scale=2; $a / $b" | bc)
    verdict=MISS; [ "$r" != inf ] && [ "$(echo "$r <= 0.9" | bc)" = 1 ] && verdict=MET
    echo "RATIO cpu_per_mpkt dir=$dir size=$size rate=$RATE ours=$a l2tpns=$b ours/l2tpns=$r target<=0.9 $verdict"
    if [ "$FLAT" = 1 ]; then
      a=${PPS[ours,flat,$dir,$size]:-0}; b=${PPS[l2tpns,flat,$dir,$size]:-0}
      r=inf; [ "$(echo "$b > 0" | bc)" = 1 ] && r=$(echo "scale=2; $a / $b" | bc)
      echo "RATIO flat_out_pps dir=$dir size=$size ours=$a l2tpns=$b ours/l2tpns=$r"
      a=${LPPS[ours,flat,$dir,$size]:-0}; b=${LPPS[l2tpns,flat,$dir,$size]:-0}
      r=inf; [ "$(echo "$b > 0" | bc)" = 1 ] && r=$(echo "scale=2; $a / $b" | bc)
      echo "RATIO flat_out_lns_out_pps dir=$dir size=$size ours=$a l2tpns=$b ours/l2tpns=$r"
    fi
  done
done

# ratio_line NAME LABEL BASE FIG: one RATIO line for the current dir and
# size: `FIG KEY` gives an LNS's figure, BASE is taken from it, and each
# of ours is also put over l2tpns.
ratio_line() {
  local name=$1 label=$2 base=$3 fig=$4 k o l line
  l=$(share "$($fig l2tpns)" "$base")
  line="RATIO $name dir=$dir size=$size rate=$RATE $label=$base l2tpns=$l"
  for path in $DATA_PATHS; do
    k=ours; [ "$path" = userspace ] || k=ours-$path
    o=$(share "$($fig "$k")" "$base")
    line+=" $k=$o $k/l2tpns=$(ratio "$o" "$l")"
  done
  echo "$line"
}
# The whole machine in KEY's run; and without the receiver's own CPU (the
# sink upstream, the LAC downstream; on a network it is another host).
machine() { echo "${MUS[$1,rate,$dir,$size]:--}"; }
own() { share "${MUS[$1,rate,$dir,$size]:--}" "${RXUS[$1,rate,$dir,$size]:--}"; }
less_holding() { share "${MUS[$1,rate,$dir,$size]:--}" "$(holding "$1")"; }
if [ "$GENERATOR_ONLY" = 1 ]; then
  for dir in $DIRS; do
    for size in $SIZES; do
      ratio_line lns_share_us_per_pkt generator "$(machine generator)" machine
      # The generator's receiver only wakes on its cadence; taken out too.
      ratio_line lns_own_us_per_pkt generator "$(own generator)" own
      # Downstream only: upstream's generator is the load generator, which
      # costs more than the wire's source, and the LNS's socket already
      # received what the generator-only run counts.
      [ "$dir" = down ] || continue
      ratio_line lns_added_us_per_pkt wire "${MUS[wire,rate,$size]:--}" machine
      # The share less the LNS's holding cost (its IDLE line: keepalives,
      # a fixed load per second, not per packet), i.e. what each packet
      # adds. Downstream only: traffic from the sessions (upstream) stops
      # the echoes, so upstream's share holds little of the idle load.
      ratio_line lns_per_pkt_less_holding_us generator "$(machine generator)" less_holding
    done
  done
fi
[ -z "$THROTTLE_KBPS" ] && exit 0
for mode in "${modes[@]}"; do
  for dir in $DIRS; do
    for size in $SIZES; do
      # At a fixed rate CPU per packet received; flat out per packet delivered.
      if [ "$mode" = rate ]; then
        fig=lns_cpu_s_per_mpkt
        for k in ours ours-throttled l2tpns l2tpns-throttled; do v[$k]=${CPM[$k,$mode,$dir,$size]:-0}; done
      else
        fig=lns_cpu_s_per_mpkt_out
        for k in ours ours-throttled l2tpns l2tpns-throttled; do v[$k]=${CPMO[$k,$mode,$dir,$size]:-0}; done
      fi
      echo "THROTTLE $fig mode=$mode dir=$dir size=$size kbps=$THROTTLE_KBPS ours=${v[ours]}" \
           "ours_throttled=${v[ours-throttled]} l2tpns=${v[l2tpns]} l2tpns_throttled=${v[l2tpns-throttled]}"
      r=$(ratio "${v[ours-throttled]}" "${v[ours]}")
      verdict=MISS; [ "$r" != - ] && [ "$(echo "$r <= 1.10" | bc)" = 1 ] && verdict=MET
      echo "RATIO throttle_cost mode=$mode dir=$dir size=$size ours_throttled/ours=$r target<=1.10 $verdict"
      echo "RATIO throttle_cost mode=$mode dir=$dir size=$size ours_throttled/l2tpns_throttled=$(ratio "${v[ours-throttled]}" "${v[l2tpns-throttled]}")" \
           "l2tpns_throttled/l2tpns=$(ratio "${v[l2tpns-throttled]}" "${v[l2tpns]}")"
    done
  done
done

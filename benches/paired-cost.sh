#!/bin/bash
# What each LNS adds per forwarded packet, measured in pairs of windows
# within one traffic run, so that the machine's drift between runs (up to
# 4x over hours on this machine, Docs/PERFORMANCE.md) cancels out.
#
#   benches/paired-cost.sh
#   LNSES="l2tpns userspace bpf" SESSION_COUNTS="1000 100000" SIZES=64 \
#       DIRS="up down" PAIRS=5 RATE=50000 benches/paired-cost.sh
#
# For each LNS and session count: the LNS starts alone in a namespace, the
# load generator logs every session in and offers RATE packets a second
# through them (upstream to a sink on the TUN address, downstream from
# `l2tpns-loadgen source` through a TUN of its own, as in
# benches/dataplane-vs-l2tpns.sh). During that one run the bench takes
# PAIRS windows with the traffic dropped where it would reach the LNS,
# each between two with it forwarded (F B F B ... B F), and the whole
# machine's busy CPU over each (machine_busy). The mean of the two
# forwarded windows minus the dropped one, over the packets offered, is
# what the LNS adds per packet: the generator, the sessions' holding
# (keepalives, timers) and everything else on the machine are in both.
# The receiver's own CPU (the sink up, the LAC down) is measured in the
# same windows, and each figure is also given without it.
#
# Where the traffic is dropped: where the generator-only run of
# benches/dataplane-vs-l2tpns.sh drops it (its LNS stopped), so the
# figure is the issue's "own share" measured in pairs:
#   up:   the load generator (`--decoy-port 1799`, switched by SIGUSR1 and
#         SIGUSR2) sends the same packets to port 1799 of the LNS's
#         address, where a socket nobody reads is full: the kernel drops
#         them there, as at a stopped LNS's full socket. The fast path's
#         upstream program passes them on at its port check.
#   down: `l2tpns-loadgen source --decoy-to 198.19.255.1` (switched the
#         same way) sends the same packets to that one address, routed to
#         a second TUN device (pa-dec0) that nobody reads: the kernel
#         forwards them and drops them at its full queue, as at a stopped
#         LNS's TUN. (Not an `ip rule`: once a namespace has had a rule of
#         its own, every route lookup walks the rules, in both windows.)
# Windows: WINDOW_UP (5 s) upstream, WINDOW_DOWN (10 s) downstream, one
# whole period of l2tpns's default echo_timeout (10 s).
# ECHO_TIMEOUT (300 s): every daemon's echo_timeout for the run, so that
# no LCP echo lands in one kind of window only. At 100,000 sessions and
# 50,000 pps a session sends one packet every 2 s; around a dropped window
# some go quiet for 10 s, and the default sent 46,000-137,000 echoes a run
# there (none at 1,000 sessions), in whichever window they fell
# (Docs/PERFORMANCE.md). ECHO_TIMEOUT=10 measures with them.
#
# Prints PAIR lines (each pair), PAIRED lines (median and range over the
# pairs) and RATIO lines: each LNS against l2tpns at the same session
# count, and each LNS's 100,000-session figure against its 1,000 (the
# issue's "flat"). Needs root, freeradius, and l2tpns for its runs.
# OURS_BIN: run that build of our daemon instead of this tree's (A/B).
# SINK_CPU: the CPU of the upstream sink (default GEN_CPU, beside the
# generator).
# LO_RPS_CPUS: an rps_cpus mask for lo's receive (e.g. 2: CPU 1, the
# LNS's), so that what arrives over lo is processed on that CPU, as a
# NIC's interrupt on another core would have it, instead of in the
# sender's context on the generator's CPU.
# BPF_STATS=1: also the kernel's own count of our programs' run time
# (kernel.bpf_stats_enabled, on for the run and put back after), as ns per
# program run in each window (prog_ns_per_run): what the fast path's
# programs cost, undisturbed by the generator's noise (its two clock
# reads a run included).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
LNSES=${LNSES:-l2tpns userspace bpf}
SESSION_COUNTS=${SESSION_COUNTS:-1000 100000}
RATE=${RATE:-50000}
SIZES=${SIZES:-64}
DIRS=${DIRS:-up down}
PAIRS=${PAIRS:-5}
WINDOW_UP=${WINDOW_UP:-5}
WINDOW_DOWN=${WINDOW_DOWN:-10}
LOGIN_CONCURRENCY=${LOGIN_CONCURRENCY:-200}
LNS_CPU=${LNS_CPU:-1}
GEN_CPU=${GEN_CPU:-0}
RX_INTERVAL_US=${RX_INTERVAL_US:-1000}
BPF_STATS=${BPF_STATS:-0}
ECHO_TIMEOUT=${ECHO_TIMEOUT:-300}
SINK_CPU=${SINK_CPU:-$GEN_CPU}
command -v freeradius >/dev/null || { echo "apt-get install freeradius freeradius-utils" >&2; exit 1; }
case " $LNSES " in *" l2tpns "*) command -v /usr/sbin/l2tpns >/dev/null || { echo "apt-get install l2tpns" >&2; exit 1; } ;; esac
NS=pa-pc$$
RUN=$(mktemp -d /tmp/l2tpns-pc.XXXXXX)
SECRET=bench-radius-s3cret
TUN_ADDR=10.200.0.1
SINK=$TUN_ADDR:9000
# l2tpns's pool is a /16 (its ceiling is 65,535 sessions); ours a /14.
POOL_L2TPNS=10.208.0.0/16
POOL_OURS=10.208.0.0/14
MAX_SESSIONS=0
for n in $SESSION_COUNTS; do [ "$n" -gt "$MAX_SESSIONS" ] && MAX_SESSIONS=$n; done
LNS_PID=""; FR_PID=""; AUX_PIDS=(); DECOY_PIDS=()
# shellcheck source=contrib/bench-common.sh
. "$ROOT/contrib/bench-common.sh"
bench_build
GEN=(ip netns exec "$NS" taskset -c "$GEN_CPU")

cleanup() {
  stop_aux
  stop_lns "$NS"
  [ -n "$FR_PID" ] && kill "$FR_PID" 2>/dev/null || true
  for p in "${DECOY_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns del "$NS" 2>/dev/null || true
  [ -z "${OLD_BPF_STATS:-}" ] || sysctl -qw kernel.bpf_stats_enabled="$OLD_BPF_STATS"
  echo "logs kept in $RUN" >&2
}
trap cleanup EXIT
if [ "$BPF_STATS" = 1 ]; then
  OLD_BPF_STATS=$(sysctl -n kernel.bpf_stats_enabled)
  sysctl -qw kernel.bpf_stats_enabled=1
fi

# prog_time: run_time_ns and run_cnt summed over the BPF programs the LNS
# holds ("0 0" for none: l2tpns, the userspace path, BPF_STATS unset).
prog_time() {
  local fd t=0 c=0 rt rc
  if [ "$BPF_STATS" = 1 ] && [ -n "$LNS_PID" ]; then
    for fd in /proc/"$LNS_PID"/fd/*; do
      [ "$(readlink "$fd" 2>/dev/null)" = "anon_inode:bpf-prog" ] || continue
      read -r rt rc <<< "$(awk '/^run_time_ns/ { t = $2 } /^run_cnt/ { c = $2 } END { printf "%s %s\n", t == "" ? 0 : t, c == "" ? 0 : c }' "/proc/$LNS_PID/fdinfo/${fd##*/}" 2>/dev/null || echo 0 0)"
      t=$((t + rt)); c=$((c + rc))
    done
  fi
  echo "$t $c"
}

# ns_per_run BEFORE AFTER: prog_time's difference as ns a run ("-": none).
ns_per_run() {
  local t0 c0 t1 c1
  read -r t0 c0 <<< "$1"; read -r t1 c1 <<< "$2"
  if [ $((c1 - c0)) -gt 0 ]; then echo $(( (t1 - t0) / (c1 - c0) )); else echo -; fi
}

# window SECONDS RX_PID: one measured window: the machine's busy CPU, the
# receiver's, and the programs' ns a run over it.
window() {
  local p0 p1 busy rx
  p0=$(prog_time); read -r busy rx <<< "$(machine_busy "$1" "$2")"; p1=$(prog_time)
  echo "$busy $rx $(ns_per_run "$p0" "$p1")"
}

bench_netns "$NS"
[ -z "${LO_RPS_CPUS:-}" ] || ip netns exec "$NS" sh -c "echo $LO_RPS_CPUS > /sys/class/net/lo/queues/rx-0/rps_cpus"
ip netns exec "$NS" sysctl -qw net.ipv4.conf.lo.forwarding=1 net.ipv4.conf.lo.accept_local=1 net.ipv4.conf.lo.route_localnet=1
# The decoys (see the header): a full socket on 127.0.0.1:1799 and a TUN
# device nobody reads, with a route to DECOY_TO.
DECOY_PORT=1799
DECOY_TO=198.19.255.1
ip netns exec "$NS" python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
s.bind(("127.0.0.1", '"$DECOY_PORT"'))
time.sleep(1e6)' &
DECOY_PIDS=($!)
ip netns exec "$NS" python3 -c '
import fcntl, os, struct, time
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", b"pa-dec0", 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN | IFF_NO_PI
time.sleep(1e6)' &
DECOY_PIDS+=($!)
for _ in $(seq 1 50); do ip netns exec "$NS" ip link show pa-dec0 > /dev/null 2>&1 && break; sleep 0.1; done
ip netns exec "$NS" ip link set pa-dec0 up
ip netns exec "$NS" ip route add "$DECOY_TO/32" dev pa-dec0
echo "SETUP lnses=\"$LNSES\" sessions=\"$SESSION_COUNTS\" rate=$RATE pairs=$PAIRS window_up=$WINDOW_UP window_down=$WINDOW_DOWN echo_timeout=$ECHO_TIMEOUT sink_cpu=$SINK_CPU"

. "$ROOT/contrib/freeradius-fixture.sh"
fr_prepare "$RUN" "$SECRET" "$MAX_SESSIONS" pw no
fr_start "$NS" "$RUN" taskset -c "$GEN_CPU"

bench_etc "$RUN/etc-l2tpns" "$SECRET" "$POOL_L2TPNS"
echo "set allow_duplicate_users no" >> "$RUN/etc-l2tpns/startup-config"
for path in userspace bpf; do
  bench_etc "$RUN/etc-$path" "$SECRET" "$POOL_OURS"
  printf 'set allow_duplicate_users no\nset data_workers 1\nset data_path %s\n' "$path" >> "$RUN/etc-$path/startup-config"
done
# EXTRA_CONFIG: lines for every daemon's startup-config.
for d in l2tpns userspace bpf; do
  echo "set echo_timeout $ECHO_TIMEOUT" >> "$RUN/etc-$d/startup-config"
  [ -z "${EXTRA_CONFIG:-}" ] || printf '%s\n' "$EXTRA_CONFIG" >> "$RUN/etc-$d/startup-config"
done

# drop on|off PID: send the traffic of PID (the load generator upstream,
# the source downstream) to its decoy (on) or to the LNS (off).
drop() {
  if [ "$1" = on ]; then kill -USR1 "$2"; else kill -USR2 "$2"; fi
}

# per_pkt BUSY W: busy CPU-seconds over W s as µs per packet offered.
per_pkt() { echo "scale=3; $1 * 1000000 / ($RATE * $2)" | bc; }

# median / min / max of numbers.
stats() { tr ' ' '\n' <<< "$1" | { grep -E '^-?[0-9.]+$' || true; } | sort -g |
  awk '{ a[NR] = $1 } END { if (NR) printf "%s %s %s\n", a[int((NR + 1) / 2)], a[1], a[NR]; else print "- - -" }'; }

declare -A ADDED OWN PROG
# paired NAME SESSIONS DIR SIZE POOL
paired() {
  local name=$1 n=$2 dir=$3 size=$4 pool=$5 tag="$1-$2-$3-$4"
  local w=$WINDOW_UP; [ "$dir" = down ] && w=$WINDOW_DOWN
  # Each window is machine_busy's 1 s of settling, w s of sampling and
  # its reads (up to 0.5 s on this machine: with w + 1 the traffic ended
  # inside the last window); a margin for the source's start.
  local traffic=$(( (PAIRS * 2 + 1) * (w + 2) + 6 ))
  local tunnels=$(( n < 10 ? 1 : 10 ))
  stop_aux
  rm -f "$RUN/$tag".{sink,out,err,src}
  if [ "$dir" = up ]; then
    ip netns exec "$NS" taskset -c "$SINK_CPU" "$LOADGEN" sink --bind "$SINK" --duration 3600 --rx-interval-us "$RX_INTERVAL_US" > "$RUN/$tag.sink" 2>&1 &
    AUX_PIDS+=($!)
    for _ in $(seq 1 50); do grep -q "SINK listening" "$RUN/$tag.sink" && break; sleep 0.1; done
  fi
  "${GEN[@]}" "$LOADGEN" --tunnels "$tunnels" --threads "$tunnels" --sessions "$n" --auth pap --password pw \
      --concurrency "$LOGIN_CONCURRENCY" --pings 1 --timeout 300 --expect-dns 10.200.0.53,10.200.0.54 --traffic "$dir" \
      --rate "$RATE" --size "$size" --duration "$traffic" --sink "$SINK" --rx-interval-us "$RX_INTERVAL_US" \
      --decoy-port "$DECOY_PORT" > "$RUN/$tag.out" 2> "$RUN/$tag.err" &
  local lg=$! switch
  switch=$lg
  until grep -qs 'TRAFFIC START' "$RUN/$tag.err"; do
    kill -0 "$lg" 2>/dev/null || { echo "PAIRED lns=$name sessions=$n dir=$dir size=$size result=no-traffic"; tail -3 "$RUN/$tag.err"; return 0; }
    sleep 0.05
  done
  if [ "$dir" = down ]; then
    ip netns exec "$NS" taskset -c "$GEN_CPU" "$LOADGEN" source --via-tun lgsrc0 --to "$pool" --sessions "$n" \
        --rate "$RATE" --size "$size" --duration "$traffic" --decoy-to "$DECOY_TO" > "$RUN/$tag.src" 2>&1 &
    AUX_PIDS+=($!)
    switch=$!
  fi
  sleep 2
  # F B F B ... B F: each dropped window between two forwarded ones, and
  # compared with their mean, so a drift within the run cancels and no
  # two dropped windows follow each other (upstream, 2 x 6 s without
  # traffic would bring the sessions' LCP echoes due). The receiver's own
  # CPU (the sink up, the load generator's LAC down) is taken in the same
  # windows: on a network it is another host.
  local rx=$lg i f b d fr br dr med lo hi list="" own_list="" prev prev_rx
  local pf_prev pf pb prog="" prog_f="" prog_b=""
  [ "$dir" = up ] && rx=${AUX_PIDS[0]}
  read -r prev prev_rx pf_prev <<< "$(window "$w" "$rx")"
  for i in $(seq 1 "$PAIRS"); do
    drop on "$switch"; read -r b br pb <<< "$(window "$w" "$rx")"; drop off "$switch"
    read -r f fr pf <<< "$(window "$w" "$rx")"
    if [ "$BPF_STATS" = 1 ]; then
      prog=" prog_ns_per_run=$pf_prev,$pb,$pf"; prog_f+=" $pf_prev $pf"; prog_b+=" $pb"
    fi
    pf_prev=$pf
    d=$(per_pkt "$(echo "scale=6; ($prev + $f) / 2 - $b" | bc)" "$w")
    dr=$(per_pkt "$(echo "scale=6; ($prev + $f - $prev_rx - $fr) / 2 - $b + $br" | bc)" "$w")
    list+=" $d"; own_list+=" $dr"
    echo "PAIR lns=$name sessions=$n dir=$dir size=$size pair=$i forwarded_us_per_pkt=$(per_pkt "$prev" "$w"),$(per_pkt "$f" "$w")" \
         "dropped_us_per_pkt=$(per_pkt "$b" "$w") added_us_per_pkt=$d receiver_us_per_pkt=$(per_pkt "$fr" "$w") added_without_receiver_us_per_pkt=$dr$prog"
    prev=$f; prev_rx=$fr
  done
  wait "$lg" || true
  stop_aux
  local s t st; s=$(grep '^SUMMARY' "$RUN/$tag.out" || true); t=$(grep '^TRAFFIC' "$RUN/$tag.out" || true)
  local own; own=$(stats "$own_list" | cut -d' ' -f1)
  read -r med lo hi <<< "$(stats "$list")"
  ADDED[$name,$n,$dir,$size]=$med
  OWN[$name,$n,$dir,$size]=$own
  if [ -n "$prog_f" ]; then
    PROG[$name,$n,$dir,$size]=$(stats "$prog_f" | cut -d' ' -f1)
    prog=" prog_ns_per_run_forwarded=${PROG[$name,$n,$dir,$size]} prog_ns_per_run_dropped=$(stats "$prog_b" | cut -d' ' -f1)"
  fi
  st=$(echo "$s" | grep -o '\bup=[0-9]*' | head -1)
  echo "PAIRED lns=$name sessions=$n dir=$dir size=$size pairs=$PAIRS window_s=$w added_us_per_pkt=$med min=$lo max=$hi added_without_receiver_us_per_pkt=$own sessions_$st" \
       "$(echo "$t" | grep -o '\b\(up\|down\)_\(sent\|received\)=[0-9]*' | paste -sd' ') result=$(echo "$s" | grep -o 'result=[^ ]*' | cut -d= -f2)$prog"
}

for lns in $LNSES; do
  for n in $SESSION_COUNTS; do
    case $lns in
      l2tpns)
        [ "$n" -gt 65535 ] && { echo "SKIP lns=l2tpns sessions=$n (its ceiling is 65,535)"; continue; }
        cmd=$(l2tpns_command "$RUN/etc-l2tpns"); ready=$L2TPNS_READY; pool=$POOL_L2TPNS; name=l2tpns ;;
      userspace|bpf)
        cmd="exec $OURS -c $RUN/etc-$lns/startup-config"; ready=udp1701; pool=$POOL_OURS; name=ours-$lns ;;
      *) echo "LNSES: l2tpns, userspace, bpf" >&2; exit 1 ;;
    esac
    start_lns "$NS" "$RUN/$name-$n.log" "$cmd" "$LNS_CPU"
    wait_lns_ready "$NS" "$RUN/$name-$n.log" "$ready" || { echo "$name did not get ready"; tail "$RUN/$name-$n.log"; exit 1; }
    sleep 1
    taskset -a -p -c "$LNS_CPU" "$LNS_PID" > /dev/null
    grep -h "data path:" "$RUN/$name-$n.log" | sed 's/^/DATAPATH /' || true
    for dir in $DIRS; do
      for size in $SIZES; do
        paired "$name" "$n" "$dir" "$size" "$pool"
        sleep 1
      done
    done
    t0=$(date +%s.%N)
    stop_lns "$NS"
    echo "STOPPED lns=$name sessions=$n after_s=$(echo "$(date +%s.%N) - $t0" | bc)"
  done
done

first=${SESSION_COUNTS%% *}
for dir in $DIRS; do
  for size in $SIZES; do
    for n in $SESSION_COUNTS; do
      for name in ours-userspace ours-bpf; do
        [ -n "${ADDED[$name,$n,$dir,$size]:-}" ] && [ -n "${ADDED[l2tpns,$n,$dir,$size]:-}" ] || continue
        echo "RATIO paired_added dir=$dir size=$size sessions=$n $name=${ADDED[$name,$n,$dir,$size]}" \
             "l2tpns=${ADDED[l2tpns,$n,$dir,$size]} $name/l2tpns=$(ratio "${ADDED[$name,$n,$dir,$size]}" "${ADDED[l2tpns,$n,$dir,$size]}")" \
             "without_receiver: $name=${OWN[$name,$n,$dir,$size]} l2tpns=${OWN[l2tpns,$n,$dir,$size]}" \
             "$name/l2tpns=$(ratio "${OWN[$name,$n,$dir,$size]}" "${OWN[l2tpns,$n,$dir,$size]}")"
      done
    done
    for name in l2tpns ours-userspace ours-bpf; do
      for n in $SESSION_COUNTS; do
        [ "$n" = "$first" ] && continue
        [ -n "${ADDED[$name,$n,$dir,$size]:-}" ] && [ -n "${ADDED[$name,$first,$dir,$size]:-}" ] || continue
        echo "RATIO paired_flat dir=$dir size=$size lns=$name sessions_$first=${ADDED[$name,$first,$dir,$size]}" \
             "sessions_$n=${ADDED[$name,$n,$dir,$size]} ratio=$(ratio "${ADDED[$name,$n,$dir,$size]}" "${ADDED[$name,$first,$dir,$size]}")" \
             "without_receiver: sessions_$first=${OWN[$name,$first,$dir,$size]} sessions_$n=${OWN[$name,$n,$dir,$size]}" \
             "ratio=$(ratio "${OWN[$name,$n,$dir,$size]}" "${OWN[$name,$first,$dir,$size]}")" \
             "${PROG[$name,$n,$dir,$size]:+programs: sessions_$first=${PROG[$name,$first,$dir,$size]:-} sessions_$n=${PROG[$name,$n,$dir,$size]} ratio=$(ratio "${PROG[$name,$n,$dir,$size]}" "${PROG[$name,$first,$dir,$size]:-0}")}"
      done
    done
  done
done

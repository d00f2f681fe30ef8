# Sourced by benches/*-vs-l2tpns.sh, paired-cost.sh and scale.sh: what
# every side-by-side run with Debian's l2tpns 2.4.1 needs, in one place.

# bench_build: the release binaries, built if need be; sets OURS (the
# daemon) and LOADGEN. OURS_BIN: another build of the daemon to run
# instead (an A/B of two commits in one sitting).
bench_build() {
  cargo build --release --bins >/dev/null 2>&1 || cargo build --release --bins
  local target=${CARGO_TARGET_DIR:-$ROOT/target}
  OURS=${OURS_BIN:-$target/release/l2tpns}
  LOADGEN=$target/release/l2tpns-loadgen
}

# bench_netns NS: a namespace with lo up and the veth whose IPv4 address
# l2tpns needs on its cluster_interface (pa-cl0) before it will start.
bench_netns() {
  local ns=$1
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" ip link add pa-cl0 type veth peer name pa-cl1
  ip netns exec "$ns" ip addr add 10.200.2.1/32 dev pa-cl0
  ip netns exec "$ns" ip link set pa-cl1 up
  ip netns exec "$ns" ip link set pa-cl0 up
}

# bench_etc DIR SECRET POOL: a startup-config both daemons read (the
# l2tpns-only variables are accepted by ours), its ip_pool, and empty users
# and ppp-secrets files. Append daemon-specific lines afterwards.
bench_etc() {
  local dir=$1 secret=$2 pool=$3
  mkdir -p "$dir"
  cat > "$dir/startup-config" <<EOC
set debug 1
set tundevicename "patun0"
set iftun_address 10.200.0.1
set peer_address 10.200.0.1
set primary_dns 10.200.0.53
set secondary_dns 10.200.0.54
set primary_radius 127.0.0.1
set radius_secret "$secret"
set radius_authtypes "pap"
set radius_accounting no
set send_garp no
set cluster_interface "pa-cl0"
set cli_bind_address 127.0.0.1
EOC
  echo "$pool" > "$dir/ip_pool"
  : > "$dir/users"
  : > "$dir/ppp-secrets"
}

# l2tpns_command ETC: runs Debian's l2tpns on the files in ETC. Its config
# path is compiled in, so ETC is bind-mounted over /etc/l2tpns in a private
# mount namespace, never by editing the host's /etc. Every process in the
# chain execs, so the PID of the background job is l2tpns itself.
l2tpns_command() {
  echo "exec unshare -m --propagation private sh -c 'mount --bind $1 /etc/l2tpns && exec /usr/sbin/l2tpns -c /etc/l2tpns/startup-config'"
}

# l2tpns serves nothing until it has declared itself cluster master (~15 s).
L2TPNS_READY="declaring myself the master"

# start_lns NS LOG CMD [TASKSET-CPU]: start an LNS in its own session
# (l2tpns signals its whole process group when it stops) and set LNS_PID.
start_lns() {
  local ns=$1 log=$2 cmd=$3 cpu=${4:-}
  if [ -n "$cpu" ]; then
    ip netns exec "$ns" taskset -c "$cpu" setsid sh -c "$cmd" > "$log" 2>&1 &
  else
    ip netns exec "$ns" setsid sh -c "$cmd" > "$log" 2>&1 &
  fi
  LNS_PID=$!
}

# wait_lns_ready NS LOG READY: READY is a log line, or "udp1701" for "the
# L2TP port is bound". Up to 40 s; false if it never got ready.
wait_lns_ready() {
  local ns=$1 log=$2 ready=$3
  for _ in $(seq 1 400); do
    if [ "$ready" = udp1701 ]; then
      ip netns exec "$ns" ss -Hlun | grep -q ':1701 ' && return 0
    else
      grep -q "$ready" "$log" && return 0
    fi
    kill -0 "$LNS_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# running PID: the process exists and is not a zombie (kill -0 succeeds
# on a zombie, and a child of this shell stays one until it is waited for).
running() {
  local st
  st=$(awk '{ s = $0; sub(/.*\) /, "", s); print substr(s, 1, 1) }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# stop_pid PID [SIGNAL] [TENTHS]: signal, wait up to TENTHS/10 s, then KILL
# and wait (up to 5 s) until it is gone, so that what it held is free.
stop_pid() {
  local p=$1 sig=${2:-TERM} tenths=${3:-100}
  [ -n "$p" ] || return 0
  running "$p" || { wait "$p" 2>/dev/null || true; return 0; }
  kill "-$sig" "$p" 2>/dev/null || true
  for _ in $(seq 1 "$tenths"); do running "$p" || break; sleep 0.1; done
  if running "$p"; then
    kill -KILL "$p" 2>/dev/null || true
    for _ in $(seq 1 50); do running "$p" || break; sleep 0.1; done
  fi
  wait "$p" 2>/dev/null || true
}

# cpu_ticks PID: utime + stime of a process (all threads), in clock ticks.
cpu_ticks() { awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }

# run_ns PID: nanoseconds on a CPU of every thread of a process (schedstat:
# exact, unlike the tick-sampled utime/stime; softirq work that happens to
# run in its context is not in it).
# (%.0f: mawk's %d stops at 2^31 ns.)
run_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

# machine_busy WINDOW [PID]: after 1 s, the whole machine's busy
# CPU-seconds over WINDOW s: the CPUs' wall time minus their idle, iowait
# and steal (time the hypervisor gave another guest) in /proc/stat.
# Idle time is measured exactly (NO_HZ); the busy columns are tick
# samples, which misread short periodic work on this machine by up to 100x.
# With PID, a second field: that process's own CPU-seconds over the same
# window (run_ns).
machine_busy() {
  local i0 i1 t0 t1 n r0=0 r1=0
  n=$(getconf _NPROCESSORS_ONLN)
  sleep 1
  [ -z "${2:-}" ] || r0=$(run_ns "$2")
  t0=$(date +%s.%N); i0=$(awk '/^cpu / { print $5 + $6 + $9 }' /proc/stat)
  sleep "$1"
  t1=$(date +%s.%N); i1=$(awk '/^cpu / { print $5 + $6 + $9 }' /proc/stat)
  [ -z "${2:-}" ] || r1=$(run_ns "$2")
  echo "scale=3; ($n * ($t1 - $t0) - ($i1 - $i0) / $(getconf CLK_TCK)) / 1" | bc |
    if [ -n "${2:-}" ]; then tr '\n' ' '; echo "scale=6; ($r1 - $r0) / 1000000000" | bc; else cat; fi
}

# stop_lns NS: stop the LNS (LNS_PID, TERM, then KILL after 10 s) and
# clear LNS_PID. A CLI child of l2tpns (one per connection) may outlive
# it, still listening on port 23 in NS: end it, or the next LNS cannot
# start. A dying process's socket is listed for a moment without its pid:
# wait until no socket listens at all.
stop_lns() {
  local ns=$1 p listening
  stop_pid "$LNS_PID" TERM 100; LNS_PID=""
  for _ in $(seq 1 100); do
    listening=$(ip netns exec "$ns" ss -Htlnp 'sport = :23')
    [ -z "$listening" ] && return 0
    p=$(echo "$listening" | { grep -o 'pid=[0-9]*' || true; } | cut -d= -f2 | sort -u)
    # shellcheck disable=SC2086
    [ -n "$p" ] && kill -KILL $p 2>/dev/null || true
    sleep 0.1
  done
  echo "port 23 in $ns still listened on after 10 s: $listening" >&2
}

# stop_aux: end the helpers in AUX_PIDS (sinks, sources, load
# generators) and wait for them.
stop_aux() {
  local p
  for p in "${AUX_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${AUX_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  AUX_PIDS=()
}

# ratio A B: A/B to two places, "-" unless both are numbers and B > 0.
ratio() {
  if [[ ${1:-} =~ ^[0-9.]+$ && ${2:-} =~ ^[0-9.]+$ ]] && [ "$(echo "$2 > 0" | bc)" = 1 ]; then
    echo "scale=2; $1 / $2" | bc
  else echo -; fi
}

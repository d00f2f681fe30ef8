#!/bin/bash
# Scale: many sessions in one process with the embedded secrets file, and
# the data plane's CPU per packet with few vs many sessions up.
#
#   benches/scale.sh setup   SESSIONS TUNNELS   # setup rate, RSS, idle CPU, teardown
#   benches/scale.sh traffic SESSIONS TUNNELS   # CPU per packet at a fixed rate
#   benches/scale.sh scrape  SESSIONS TUNNELS   # control-loop cost of a /metrics scrape
#   benches/scale.sh cli     SESSIONS TUNNELS   # `show session` on the CLI vs packet delay
#   benches/scale.sh restart SESSIONS TUNNELS   # save_state: SIGTERM + a new start under pings
#
#   HOLD=30 benches/scale.sh setup 100000 16
#   EXTRA_CONFIG="set echo_timeout 60" CONCURRENCY=2000 benches/scale.sh setup 1000000 20
#   benches/scale.sh traffic 1000 10; benches/scale.sh traffic 1000000 20
#
# Environment: WORKERS (data_workers; default 2 for setup, 1 for traffic),
# CONCURRENCY (calls in setup at once, 4000), HOLD (s, 20), IDLE (s of idle
# CPU measured while holding, 10), RATE (pps, 50000), SIZE (64), DURATION
# (s, 10), ROUNDS (2), DIRS ("down up"), LNS_CPU (1), GEN_CPU (0), POOL
# (10.64.0.0/10; the pool parser keeps its first 1,048,576 addresses),
# DEBUG (3, as the shipped etc/startup-config), EXTRA_CONFIG (more
# startup-config lines), THREADS (load generator threads, = TUNNELS).
#
# One network namespace (pascale$$), the daemon and the load generator in
# it over loopback, release builds.
#
# setup: prints one SETUP line: setup time and rate (the load generator's),
# the daemon's RSS before the login and with every session up, bytes per
# session, the CPU seconds of the daemon and of the load generator during
# the setup, the daemon's idle CPU (% of a core) while holding, teardown.
#
# traffic: the LNS (all threads, `set data_workers 1`) pinned to LNS_CPU,
# everything else to GEN_CPU. Downstream: one login of SESSIONS sessions
# held, then ROUNDS runs of `l2tpns-loadgen source` at RATE pps over all of
# them (destinations round robin), each measured as the LNS's utime+stime
# (/proc/PID/stat) over the run and the packets it forwarded (the
# down_packets counter of its status line). The held sessions' idle CPU is
# measured the same way over DURATION seconds without traffic. Upstream:
# ROUNDS fresh logins with `--traffic up` (the sessions send round robin to
# a sink on the TUN address), the LNS's CPU over the traffic phase
# (`--lns-pid`) and the packets it forwarded over it (the up_packets counter
# of its status line, from TRAFFIC START to the end). Prints one
# TRAFFIC line per direction and round: cpu_s_per_mpkt (all of the LNS's
# CPU) and net_s_per_mpkt (minus the idle CPU for the same time).
#
# scrape: `set metrics_address 127.0.0.1:9100`, SESSIONS held, then SCRAPES
# (20) scrapes of /metrics with curl, SCRAPE_GAP seconds apart (0: back to
# back). Prints one SCRAPE line: the snapshot time the daemon measures in
# its control loop, wall clock and the loop thread's CPU time
# (l2tpns_metrics_snapshot_seconds, l2tpns_metrics_snapshot_cpu_seconds;
# mean, median, max over the scrapes), the control thread's run time per
# scrape from its schedstat (nanoseconds, minus its idle rate measured over
# IDLE seconds just before; meaningful back to back only), the metrics
# thread's run time per scrape (encoding, HTTP), the wall time per scrape
# as curl saw it (gaps included), and the size of the answer.
#
# cli: SESSIONS held, then pings (every 10 ms) through the first session
# (the load generator answers them) before and while SHOWS (3) `show
# session` listings run on the telnet CLI (a plain socket client). Prints
# one CLI line: the listing's lines and wall time, and the pings' average
# and maximum round trip before and during, with their loss: how much a
# listing of every session delays user packets.
#
# restart: `set save_state yes`, SESSIONS held while the load generator
# pings round robin through them (--hold-ping-rate PING_RATE, 1000 pps),
# then SIGTERM and a new start of the same binary, while the generator
# holds on. Prints one RESTART line: the snapshot and write time and the
# state size (whole, per session) from the old daemon's log; the restore
# time from the new one's; TERM to sessions restored (log timestamps);
# the pings' largest gap (last reply before, first after: the outage
# users see); PPP renegotiations, sessions lost, and sessions that pass a
# ping after the hold (must be all).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
MODE=${1:-setup}
SESSIONS=${2:-100000}
TUNNELS=${3:-16}
CONCURRENCY=${CONCURRENCY:-4000}
HOLD=${HOLD:-20}
IDLE=${IDLE:-10}
RATE=${RATE:-50000}
SIZE=${SIZE:-64}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
DIRS=${DIRS:-down up}
LNS_CPU=${LNS_CPU:-1}
GEN_CPU=${GEN_CPU:-0}
POOL=${POOL:-10.64.0.0/10}
DEBUG=${DEBUG:-3}
EXTRA_CONFIG=${EXTRA_CONFIG:-}
if [ "$MODE" = traffic ]; then WORKERS=${WORKERS:-1}; else WORKERS=${WORKERS:-2}; fi
THREADS=${THREADS:-$TUNNELS}
SCRAPES=${SCRAPES:-20}
SCRAPE_GAP=${SCRAPE_GAP:-0}
METRICS_ADDRESS=127.0.0.1:9100
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bins >/dev/null 2>&1 || cargo build --release --bins
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
LNS_BIN=$TARGET/release/l2tpns
LOADGEN=$TARGET/release/l2tpns-loadgen
NS=pascale$$
RUN=$(mktemp -d /tmp/l2tpns-scale.XXXXXX)
TUN_ADDR=10.200.0.1
SINK=$TUN_ADDR:9000
HZ=$(getconf CLK_TCK)
LNS_PID=""; AUX_PIDS=()

# shellcheck source=contrib/bench-common.sh
. "$ROOT/contrib/bench-common.sh"
stop_lns() {
  if [ -n "$LNS_PID" ] && kill -0 "$LNS_PID" 2>/dev/null; then
    kill -KILL "$LNS_PID" 2>/dev/null || true
    wait "$LNS_PID" 2>/dev/null || true
  fi
  LNS_PID=""
}
cleanup() {
  stop_aux
  stop_lns
  ip netns del "$NS" 2>/dev/null || true
  echo "logs kept in $RUN" >&2
}
trap cleanup EXIT

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
cat > "$RUN/startup-config" <<EOF
set debug $DEBUG
set tundevicename "patun0"
set iftun_address $TUN_ADDR
set primary_dns 10.200.0.53
set secondary_dns 10.200.0.54
set ppp_secrets_file "$RUN/ppp-secrets"
set ip_pool_file "$RUN/ip_pool"
set data_workers $WORKERS
# Every tunnel comes from the load generator's one address, all at once.
set max_tunnels_per_source 0
set sccrq_rate_per_source 0
$EXTRA_CONFIG
EOF
if [ "$MODE" = scrape ]; then echo "set metrics_address \"$METRICS_ADDRESS\"" >> "$RUN/startup-config"; fi
if [ "$MODE" = restart ]; then
  printf 'set save_state yes\nset state_file "%s"\n' "$RUN/state" >> "$RUN/startup-config"
fi
echo '* * "pw" *' > "$RUN/ppp-secrets"
echo "$POOL" > "$RUN/ip_pool"

field() { { echo "$2" | grep -o "\b$1=[^ ]*" || true; } | head -1 | cut -d= -f2; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
# Datagrams the kernel dropped at a full UDP receive buffer in the namespace.
udp_drops() { ip netns exec "$NS" awk '/^Udp:/ && $2 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp; }
# Drops at the LNS's L2TP sockets (port 1701) and at everyone else's.
sock_drops() {
  ip netns exec "$NS" awk 'NR > 1 { if (substr($2, length($2) - 4) == ":06A5") l += $NF; else o += $NF }
                           END { printf "lns=%d,others=%d", l, o }' /proc/net/udp
}
secs() { echo "scale=2; $1 / $HZ" | bc; }
# A status line (SIGUSR1; needs DEBUG >= 3).
status_line() {
  local n; n=$(grep -c ' status ' "$RUN/lns.log" || true)
  kill -USR1 "$LNS_PID"
  for _ in $(seq 1 100); do
    [ "$(grep -c ' status ' "$RUN/lns.log" || true)" -gt "$n" ] && break; sleep 0.1
  done
  { grep ' status ' "$RUN/lns.log" || true; } | tail -1
}

# The daemon; pinned (all threads) to LNS_CPU for traffic runs.
PIN=(); GEN=()
if [ "$MODE" = traffic ]; then PIN=(taskset -c "$LNS_CPU"); GEN=(taskset -c "$GEN_CPU"); fi
start_lns() {
  ip netns exec "$NS" "${PIN[@]}" "$LNS_BIN" -c "$RUN/startup-config" >> "$RUN/lns.log" 2>&1 &
  LNS_PID=$!
  local n; n=$(grep -c 'listening for L2TP' "$RUN/lns.log" || true)
  for _ in $(seq 1 400); do
    [ "$(grep -c 'listening for L2TP' "$RUN/lns.log" || true)" -gt "$n" ] && break; sleep 0.05
  done
  # The PID must be the daemon itself (ip netns exec and taskset exec).
  grep -q l2tpns "/proc/$LNS_PID/comm"
  [ "$MODE" = traffic ] && taskset -a -p -c "$LNS_CPU" "$LNS_PID" >/dev/null
  sleep 1
}

LG_ARGS=(--server 127.0.0.1:1701 --tunnels "$TUNNELS" --threads "$THREADS" --sessions "$SESSIONS"
         --concurrency "$CONCURRENCY" --auth pap --password pw --pings 1 --timeout 900
         --expect-dns 10.200.0.53,10.200.0.54)

# Log in SESSIONS sessions and hold them; sets LG, C_SETUP (LNS ticks during
# the setup), LG_SETUP (the generator's).
login_and_hold() {
  local hold=$1
  "${GEN[@]}" ip netns exec "$NS" "$LOADGEN" "${LG_ARGS[@]}" --hold "$hold" > "$RUN/lg.out" 2> "$RUN/lg.err" &
  LG=$!
  local c0; c0=$(cpu_ticks "$LNS_PID")
  until grep -qs '^HOLDING' "$RUN/lg.err"; do kill -0 "$LG" 2>/dev/null || break; sleep 0.1; done
  C_SETUP=$(( $(cpu_ticks "$LNS_PID") - c0 ))
  # GEN may be taskset, which execs: $LG is the load generator.
  LG_SETUP=$(cpu_ticks "$LG" 2>/dev/null || echo 0)
}

# The LNS's CPU ticks over $1 seconds.
idle_ticks() { local c0; c0=$(cpu_ticks "$LNS_PID"); sleep "$1"; echo $(( $(cpu_ticks "$LNS_PID") - c0 )); }

start_lns
RSS_IDLE=$(rss_kb "$LNS_PID")

if [ "$MODE" = setup ]; then
  login_and_hold "$HOLD"
  DROPS_SETUP=$(sock_drops)
  THREADS_CPU=$(for t in /proc/$LNS_PID/task/*; do
    echo -n "$(tr ' ' _ < "$t/comm"):$(cpu_ticks "${t#/proc/}" 2>/dev/null || echo 0) "; done)
  sleep 2
  RSS_UP=$(rss_kb "$LNS_PID")
  UP_STATUS=$(status_line)
  IDLE_PCT=-
  if [ "$HOLD" -ge $(( IDLE + 4 )) ]; then
    IDLE_PCT=$(echo "scale=1; 100 * $(idle_ticks "$IDLE") / $HZ / $IDLE" | bc)
  fi
  wait "$LG" || true
  S=$(grep '^SUMMARY' "$RUN/lg.out" || true)
  sleep 2
  END_STATUS=$(status_line)
  echo "SETUP sessions=$SESSIONS tunnels=$TUNNELS up=$(field up "$S") setup_s=$(field setup_s "$S")" \
       "rate_per_s=$(field rate_per_s "$S") rss_idle_kb=$RSS_IDLE rss_up_kb=$RSS_UP" \
       "bytes_per_session=$(( (RSS_UP - RSS_IDLE) * 1024 / SESSIONS ))" \
       "daemon_sessions_up=$(field sessions "$UP_STATUS") teardown=$(field teardown "$S")" \
       "after_tunnels=$(field tunnels "$END_STATUS") after_sessions=$(field sessions "$END_STATUS")" \
       "lns_cpu_s=$(secs "$C_SETUP") loadgen_cpu_s=$(secs "$LG_SETUP") lns_idle_pct=$IDLE_PCT" \
       "lns_thread_ticks=\"${THREADS_CPU% }\" udp_rcvbuf_drops=$(udp_drops) setup_socket_drops=$DROPS_SETUP result=$(field result "$S")" \
       "load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
  exit 0
fi

# ---- scrape -----------------------------------------------------------------
# Nanoseconds a thread has run (schedstat: exact, unlike the 10 ms ticks of stat).
run_ns() { cut -d' ' -f1 "/proc/$LNS_PID/task/$1/schedstat"; }
if [ "$MODE" = scrape ]; then
  login_and_hold 36000
  UP_STATUS=$(status_line)
  CTL=$LNS_PID   # the control loop runs on the main thread
  MET=$(grep -l '^metrics$' /proc/"$LNS_PID"/task/*/comm | head -1 | cut -d/ -f5)
  sleep 2
  i0=$(run_ns "$CTL"); t0=$(date +%s%N); sleep "$IDLE"
  IDLE_NS_PER_S=$(( ($(run_ns "$CTL") - i0) * 1000000000 / ($(date +%s%N) - t0) ))
  c0=$(run_ns "$CTL"); m0=$(run_ns "$MET"); t0=$(date +%s%N)
  : > "$RUN/snapshot-seconds"; : > "$RUN/snapshot-cpu-seconds"
  for i in $(seq 1 "$SCRAPES"); do
    ip netns exec "$NS" curl -sf -o "$RUN/metrics.txt" "http://$METRICS_ADDRESS/metrics"
    grep '^l2tpns_metrics_snapshot_seconds ' "$RUN/metrics.txt" | cut -d' ' -f2 >> "$RUN/snapshot-seconds"
    grep '^l2tpns_metrics_snapshot_cpu_seconds ' "$RUN/metrics.txt" | cut -d' ' -f2 >> "$RUN/snapshot-cpu-seconds"
    [ "$SCRAPE_GAP" = 0 ] || sleep "$SCRAPE_GAP"
  done
  t1=$(date +%s%N); c1=$(run_ns "$CTL"); m1=$(run_ns "$MET")
  WALL_NS=$(( t1 - t0 ))
  CTL_NS=$(( (c1 - c0 - IDLE_NS_PER_S * WALL_NS / 1000000000) / SCRAPES ))
  stats_ms() {  # NAME FILE: mean, median, max in ms
    sort -g "$2" | awk -v n="$1" '{ a[NR] = $1; s += $1 }
      END { printf "%s_mean_ms=%.3f %s_median_ms=%.3f %s_max_ms=%.3f", n, 1000 * s / NR, n, 1000 * a[int((NR + 1) / 2)], n, 1000 * a[NR] }'
  }
  SNAP="$(stats_ms snapshot "$RUN/snapshot-seconds") $(stats_ms snapshot_cpu "$RUN/snapshot-cpu-seconds")"
  echo "SCRAPE sessions=$SESSIONS daemon_sessions_up=$(field sessions "$UP_STATUS")" \
       "scraped_sessions_up=$(grep '^l2tpns_sessions{state="up"}' "$RUN/metrics.txt" | cut -d' ' -f2)" \
       "scrapes=$SCRAPES $SNAP" \
       "control_thread_ms_per_scrape=$(echo "scale=3; $CTL_NS / 1000000" | bc)" \
       "control_idle_pct=$(echo "scale=1; $IDLE_NS_PER_S / 10000000" | bc)" \
       "metrics_thread_ms_per_scrape=$(echo "scale=3; ($m1 - $m0) / $SCRAPES / 1000000" | bc)" \
       "wall_ms_per_scrape=$(echo "scale=3; $WALL_NS / $SCRAPES / 1000000" | bc)" \
       "bytes=$(wc -c < "$RUN/metrics.txt") load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
  kill "$LG" 2>/dev/null || true; wait "$LG" 2>/dev/null || true
  exit 0
fi

# ---- cli --------------------------------------------------------------------
if [ "$MODE" = cli ]; then
  SHOWS=${SHOWS:-3}
  login_and_hold 36000
  UP_STATUS=$(status_line)
  ADDR=$(grep -m1 -o 'session up .* ip=[0-9.]*' "$RUN/lns.log" | grep -o 'ip=[0-9.]*' | cut -d= -f2)
  pings() {  # COUNT: "avg_ms max_ms loss%"
    ip netns exec "$NS" ping -q -n -i 0.01 -W 1 -c "$1" "$ADDR" 2>/dev/null |
      awk -F'[/ ]' '/packet loss/ { for (i = 1; i <= NF; i++) if ($i ~ /%$/) loss = $i }
                    /^rtt/ { avg = $8; max = $9 } END { printf "%s %s %s", avg, max, loss }'
  }
  read -r B_AVG B_MAX B_LOSS <<< "$(pings 300)"
  ip netns exec "$NS" ping -q -n -i 0.01 -W 1 -w 600 "$ADDR" > "$RUN/ping-during.txt" 2>&1 &
  PING=$!
  sleep 1
  t0=$(date +%s%N)
  for i in $(seq 1 "$SHOWS"); do
    # A plain socket, not telnetlib: its expect() searches the whole
    # buffer on every read, which is quadratic in a 15 MB listing.
    ip netns exec "$NS" python3 -c '
import re, socket, sys
s = socket.create_connection(("127.0.0.1", 23), 10)
prompt = re.compile(rb"[\w.-]+[>#] $")
def until_prompt():
    data = bytearray()
    while not prompt.search(bytes(data[-64:])):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return data
until_prompt()
s.sendall(b"show session\r\n")
sys.stdout.buffer.write(until_prompt())
s.sendall(b"quit\r\n")
' > "$RUN/show-session.txt"
  done
  t1=$(date +%s%N)
  sleep 1
  kill -INT "$PING"; wait "$PING" 2>/dev/null || true
  read -r D_AVG D_MAX D_LOSS <<< "$(awk -F'[/ ]' '/packet loss/ { for (i = 1; i <= NF; i++) if ($i ~ /%$/) loss = $i }
      /^rtt/ { avg = $8; max = $9 } END { printf "%s %s %s", avg, max, loss }' "$RUN/ping-during.txt")"
  echo "CLI sessions=$SESSIONS daemon_sessions_up=$(field sessions "$UP_STATUS")" \
       "listing_lines=$(grep -c '^ *[0-9]' "$RUN/show-session.txt") shows=$SHOWS" \
       "show_session_s=$(echo "scale=2; ($t1 - $t0) / $SHOWS / 1000000000" | bc)" \
       "ping_before_avg_ms=$B_AVG ping_before_max_ms=$B_MAX ping_before_loss=$B_LOSS" \
       "ping_during_avg_ms=$D_AVG ping_during_max_ms=$D_MAX ping_during_loss=$D_LOSS" \
       "load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
  kill "$LG" 2>/dev/null || true; wait "$LG" 2>/dev/null || true
  exit 0
fi

# ---- restart -----------------------------------------------------------------
if [ "$MODE" = restart ]; then
  PING_RATE=${PING_RATE:-1000}
  "${GEN[@]}" ip netns exec "$NS" "$LOADGEN" "${LG_ARGS[@]}" --hold "$HOLD" \
      --hold-ping-rate "$PING_RATE" > "$RUN/lg.out" 2> "$RUN/lg.err" &
  LG=$!
  until grep -qs '^HOLDING' "$RUN/lg.err"; do kill -0 "$LG" 2>/dev/null || break; sleep 0.1; done
  sleep 3
  OLD=$LNS_PID
  kill -TERM "$OLD"
  while kill -0 "$OLD" 2>/dev/null; do sleep 0.01; done
  wait "$OLD" 2>/dev/null || true
  start_lns
  for _ in $(seq 1 600); do grep -q 'state restored' "$RUN/lns.log" && break; sleep 0.1; done
  wait "$LG" || true
  S=$(grep -m1 'state saved' "$RUN/lns.log" || true)
  R=$(grep -m1 'state restored' "$RUN/lns.log" || true)
  T=$(grep -m1 'SIGTERM' "$RUN/lns.log" || true)
  L=$(grep '^SUMMARY' "$RUN/lg.out" || true)
  ts() { date -d "$(echo "$1" | awk '{ print $1 }')" +%s.%N 2>/dev/null || echo 0; }
  echo "RESTART sessions=$SESSIONS tunnels=$TUNNELS saved_sessions=$(field sessions "$S")" \
       "snapshot_ms=$(grep -o 'snapshot taken in [0-9.]* ms' "$RUN/lns.log" | grep -o '[0-9.]*' || echo -)" \
       "write_ms=$(field write_ms "$S") state_bytes=$(field bytes "$S")" \
       "bytes_per_session=$(field bytes_per_session "$S")" \
       "restored_sessions=$(field sessions "$R") restore_ms=$(field restore_ms "$R")" \
       "term_to_restored_s=$(echo "$(ts "$R") - $(ts "$T")" | bc)" \
       "gap_ms=$(field hold_max_gap_ms "$L") hold_pings_sent=$(field hold_pings_sent "$L")" \
       "hold_pings_received=$(field hold_pings_received "$L")" \
       "renegotiations=$(field renegotiations "$L") lost_during_hold=$(field lost_during_hold "$L")" \
       "after_ok_sessions=$(field after_ok_sessions "$L") result=$(field result "$L")"
  exit 0
fi

# ---- traffic ----------------------------------------------------------------
report() {  # DIR ROUND CPU_TICKS PACKETS IDLE_TICKS_PER_S
  local cpu net
  cpu=$(echo "scale=3; $3 * 1000000 / $HZ / $4" | bc)
  net=$(echo "scale=3; ($3 - $5 * $DURATION) * 1000000 / $HZ / $4" | bc)
  echo "TRAFFIC sessions=$SESSIONS dir=$1 round=$2 rate=$RATE size=$SIZE packets=$4" \
       "lns_cpu_s=$(secs "$3") cpu_s_per_mpkt=$cpu net_s_per_mpkt=$net" \
       "idle_pct=$(echo "scale=1; 100 * $5 / $HZ" | bc) load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
}

IDLE_PER_S=${IDLE_PER_S:-0}
if [[ " $DIRS " == *" down "* ]]; then
  login_and_hold 36000
  echo "LOGIN sessions=$SESSIONS daemon_sessions_up=$(field sessions "$(status_line)")" \
       "lns_setup_cpu_s=$(secs "$C_SETUP") rss_kb=$(rss_kb "$LNS_PID")"
  sleep 2
  IT=$(idle_ticks "$DURATION"); IDLE_PER_S=$(( IT / DURATION ))
  echo "IDLE sessions=$SESSIONS seconds=$DURATION lns_cpu_s=$(secs "$IT")"
  for r in $(seq 1 "$ROUNDS"); do
    p0=$(field down_packets "$(status_line)"); c0=$(cpu_ticks "$LNS_PID")
    "${GEN[@]}" ip netns exec "$NS" "$LOADGEN" source --to "$POOL" --sessions "$SESSIONS" --rate "$RATE" \
        --size "$SIZE" --duration "$DURATION" > "$RUN/source-$r.out" 2>&1 || true
    sleep 0.5
    c1=$(cpu_ticks "$LNS_PID"); p1=$(field down_packets "$(status_line)")
    report down "$r" $(( c1 - c0 )) $(( p1 - p0 )) "$IDLE_PER_S"
  done
  kill "$LG" 2>/dev/null || true; wait "$LG" 2>/dev/null || true
  stop_lns
fi
if [[ " $DIRS " == *" up "* ]]; then
  for r in $(seq 1 "$ROUNDS"); do
    stop_lns; start_lns
    "${GEN[@]}" ip netns exec "$NS" "$LOADGEN" sink --bind "$SINK" --duration 36000 > "$RUN/sink-$r.out" 2>&1 &
    AUX_PIDS+=($!)
    "${GEN[@]}" ip netns exec "$NS" "$LOADGEN" "${LG_ARGS[@]}" --traffic up --rate "$RATE" --size "$SIZE" \
        --duration "$DURATION" --sink "$SINK" --lns-pid "$LNS_PID" > "$RUN/up-$r.out" 2> "$RUN/up-$r.err" &
    lg=$!
    until grep -qs 'TRAFFIC START' "$RUN/up-$r.err"; do kill -0 "$lg" 2>/dev/null || break; sleep 0.05; done
    # What the LNS forwarded (its own counter; the sink, sharing GEN_CPU
    # with the generator, may drop some at its socket), pings excluded.
    p0=$(field up_packets "$(status_line)")
    wait "$lg" || true
    sleep 0.5
    p1=$(field up_packets "$(status_line)")
    T=$(grep '^TRAFFIC' "$RUN/up-$r.out" || true)
    cpu_s=$(field lns_cpu_s "$T")
    report up "$r" "$(echo "${cpu_s:-0} * $HZ / 1" | bc)" "$(( p1 - p0 > 0 ? p1 - p0 : 1 ))" "$IDLE_PER_S"
    echo "UP_END round=$r sink_received=$(field up_received "$T") sent=$(field up_sent "$T")"
    stop_aux
  done
fi

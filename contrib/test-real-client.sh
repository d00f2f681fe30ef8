#!/bin/bash
# Real PPP clients against our LNS: xl2tpd + pppd on a real Linux kernel in a
# small QEMU VM (tests/peer), 20 PAP then 20 CHAP sessions (then 2 with
# tunnel authentication and Random Vector AVPs), each pinging through its
# session. The daemon runs in its own network namespace; the VM's tap lives
# there too. A capture of the tap is decoded by tshark and must hold no
# malformed packet.
#
#   contrib/test-real-client.sh            # uses target/debug/l2tpns (built if missing)
#   L2TPNS_BIN=/path/to/l2tpns contrib/test-real-client.sh
#   SESSIONS=20 contrib/test-real-client.sh
#   contrib/test-real-client.sh --radius   # authenticate and account via FreeRADIUS
#   contrib/test-real-client.sh --restart  # sessions survive SIGTERM + a new start (save_state)
#   contrib/test-real-client.sh --policy   # walled garden and throttle (FreeRADIUS, plugins)
#   contrib/test-real-client.sh --fast-path  # the PAP run alone, on the kernel fast path
#                                            # (data_path bpf): the programs must carry the pings
#
# Exit 0 only when every run passed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=contrib/bench-common.sh
. "$ROOT/contrib/bench-common.sh"  # stop_pid
PEER=${PEER_DIR:-$ROOT/tests/peer}
SESSIONS=${SESSIONS:-20}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${L2TPNS_BIN:-$TARGET/debug/l2tpns}
cd "$ROOT"
export PEER_VM_DIR=${PEER_VM_DIR:-$ROOT/target/peer-vm}
[ -x "$PEER/lac-vm.sh" ] || { echo "FAIL: no peer harness at $PEER" >&2; exit 1; }
if [ ! -x "$BIN" ]; then (cd "$ROOT" && cargo build --bin l2tpns); fi
command -v qemu-system-x86_64 >/dev/null || { echo "FAIL: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 1; }

MODE=secrets
[ "${1:-}" = "--radius" ] && MODE=radius
[ "${1:-}" = "--restart" ] && MODE=restart
[ "${1:-}" = "--policy" ] && MODE=policy
[ "${1:-}" = "--fast-path" ] && MODE=fastpath
NS=pa-l2t$$
RUN=$(mktemp -d /tmp/l2tpns-real.XXXXXX)
LNS_PID=""; CAP_PID=""; FR_PID=""; AUX_PIDS=()
cleanup() {
  for p in "${AUX_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$CAP_PID" ] && kill "$CAP_PID" 2>/dev/null || true
  # FreeRADIUS has been seen to live on after SIGTERM (a CI run left one
  # for 40 minutes): stop_pid gives a grace period, then SIGKILL.
  stop_pid "$FR_PID" TERM 50
  stop_pid "$LNS_PID" QUIT 50
  ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT

total=$((SESSIONS * 2 + 2))
{
  echo "# real-client test"
  echo "set debug 3"
  echo "set tundevicename \"patun0\""
  echo "set iftun_address 10.200.0.1"
  echo "set primary_dns 10.200.0.53"
  echo "set secondary_dns 10.200.0.54"
  echo "set radius_authtypes \"chap,pap\""
  echo "set l2tp_secret \"tunnel-s3cret\""
  echo "set ppp_secrets_file \"ppp-secrets\""
} > "$RUN/startup-config"
echo "10.201.0.0/24" > "$RUN/ip_pool"
for i in $(seq 1 "$total"); do echo "user$i * \"pa-pass\" *"; done > "$RUN/ppp-secrets"

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
# L2TPNS_TEST_DATA_PATH=bpf|auto (as for cargo test): the LNS's kernel
# fast path attaches to the interfaces up at its start, so the VM's tap is
# made first and kept across the VM runs (lac-vm.sh --tap-exists).
DATA_PATH=${L2TPNS_TEST_DATA_PATH:-}
[ "$MODE" = fastpath ] && DATA_PATH=bpf
VM_TAP=()
if [ -n "$DATA_PATH" ]; then
  echo "set data_path $DATA_PATH" >> "$RUN/startup-config"
  ip -n "$NS" tuntap add dev pa-peer0 mode tap
  ip -n "$NS" addr add 10.254.254.1/30 dev pa-peer0
  ip -n "$NS" link set pa-peer0 up
  ip netns exec "$NS" sysctl -qw net.ipv4.conf.lo.forwarding=1
  VM_TAP=(--tap-exists)
fi
if [ "$MODE" = radius ]; then
  # A private copy of Debian's FreeRADIUS config: our client, our users,
  # signed replies (Message-Authenticator), logs and detail files in $RUN.
  # shellcheck source=contrib/freeradius-fixture.sh
  . "$ROOT/contrib/freeradius-fixture.sh"
  fr_prepare "$RUN" real-radius-s3cret "$total" pa-pass yes
  fr_start "$NS" "$RUN"
  { echo "set primary_radius 127.0.0.1"; echo "set radius_secret \"real-radius-s3cret\""; echo "set radius_accounting yes"; } >> "$RUN/startup-config"
  : > "$RUN/ppp-secrets"
fi
if [ "$MODE" = restart ]; then
  { echo "set save_state yes"; echo "set state_file \"$RUN/state\""; } >> "$RUN/startup-config"
fi
# --policy: FreeRADIUS refuses user1 (the garden plugin lets it in
# gardened) and throttles nobody; the garden allows 10.250.0.1 and sends
# port 80 elsewhere to the portal at 10.250.0.3:8080.
GARDEN_OK=10.250.0.1; GARDEN_NO=10.250.0.2; PORTAL=10.250.0.3
if [ "$MODE" = policy ]; then
  . "$ROOT/contrib/freeradius-fixture.sh"
  fr_prepare "$RUN" real-radius-s3cret 0 pa-pass yes
  fr_start "$NS" "$RUN"
  { echo "set primary_radius 127.0.0.1"; echo "set radius_secret \"real-radius-s3cret\""; echo "set radius_accounting yes"
    echo "set garden_redirect $PORTAL:8080"
    echo "load plugin \"garden\""; echo "load plugin \"throttlectl\""; } >> "$RUN/startup-config"
  : > "$RUN/ppp-secrets"
  printf '# the test garden\n%s/32\n' "$GARDEN_OK" > "$RUN/garden"
  for a in $GARDEN_OK $GARDEN_NO $PORTAL 10.200.0.53; do ip -n "$NS" addr add "$a/32" dev lo; done
  mkdir -p "$RUN/portal" "$RUN/www"; echo PORTAL > "$RUN/portal/index.html"; echo ELSEWHERE > "$RUN/www/index.html"
  (cd "$RUN/portal" && exec ip netns exec "$NS" python3 -m http.server 8080 --bind $PORTAL > /dev/null 2>&1) &
  AUX_PIDS+=($!)
  (cd "$RUN/www" && exec ip netns exec "$NS" python3 -m http.server 80 --bind $GARDEN_NO > /dev/null 2>&1) &
  AUX_PIDS+=($!)
  ip netns exec "$NS" python3 "$ROOT/tests/data/dns_answer.py" 10.200.0.53 $PORTAL > /dev/null 2>&1 &
  AUX_PIDS+=($!)
fi
start_lns() {  # $1: log file
  ip netns exec "$NS" "$BIN" -c "$RUN/startup-config" > "$1" 2>&1 &
  LNS_PID=$!
  for _ in $(seq 1 100); do grep -q "listening for L2TP" "$1" && break; kill -0 $LNS_PID || break; sleep 0.1; done
  grep -q "listening for L2TP" "$1" || { echo "FAIL: l2tpns did not start"; cat "$1"; exit 1; }
}
start_lns "$RUN/lns.log"

rc=0
run_vm() {
  local name=$1; shift
  echo "== $name"
  if ! "$PEER/lac-vm.sh" --netns "$NS" --lns 10.254.254.1 --timeout 240 "${VM_TAP[@]}" "$@" | tee "$RUN/$name.out"; then
    echo "FAIL: $name"; rc=1
  fi
  grep -q "result=PASS" "$RUN/$name.out" || rc=1
}
# The tap appears when the first VM starts; capture on every interface of the namespace.
if command -v tshark >/dev/null; then
  ip netns exec "$NS" tshark -q -i any -f "udp port 1701" -w "$RUN/real.pcap" > "$RUN/tshark.log" 2>&1 &
  CAP_PID=$!
  sleep 1
fi
# --restart: sessions up and pinged, then SIGTERM (save_state) and a new
# start of the same binary while pppd holds them; then every session must
# ping again with no PPP negotiation in pppd's log (lac-vm --pause).
restart_run() {
  echo "== restart"
  "$PEER/lac-vm.sh" --netns "$NS" --lns 10.254.254.1 --timeout 300 "${VM_TAP[@]}" --sessions 4 --auth chap \
    --first-index 1 --pause 15 > "$RUN/restart.out" 2>&1 &
  local vm=$!
  for _ in $(seq 1 1200); do grep -q PEER-HOLDING "$RUN/restart.out" && break; kill -0 $vm 2>/dev/null || break; sleep 0.2; done
  if ! grep -q PEER-HOLDING "$RUN/restart.out"; then
    echo "FAIL: the VM never held its sessions"; wait $vm || true; cat "$RUN/restart.out"; rc=1; return
  fi
  local t0; t0=$(date +%s.%N)
  kill -TERM "$LNS_PID"
  for _ in $(seq 1 200); do kill -0 "$LNS_PID" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$LNS_PID" 2>/dev/null; then echo "FAIL: l2tpns did not exit on SIGTERM"; rc=1; fi
  start_lns "$RUN/lns2.log"
  echo "RESTART saved=\"$(grep -o 'sessions=[0-9]*' "$RUN/lns.log" | tail -1)\" restored=\"$(grep 'state restored' "$RUN/lns2.log" | grep -o 'sessions=[0-9]*')\" restart_s=$(echo "$(date +%s.%N) - $t0" | bc)"
  grep -q "state restored" "$RUN/lns2.log" || { echo "FAIL: no state restored"; rc=1; }
  wait $vm || rc=1
  cat "$RUN/restart.out"
  grep -q "result=PASS" "$RUN/restart.out" || rc=1
  grep -q "after_ok=4 renegotiation_packets=0" "$RUN/restart.out" || rc=1
}
# --policy: one CHAP session that FreeRADIUS refuses comes up gardened and
# probes what it reaches; while the VM holds it, Debian's nsctl ungardens
# it (an Acct-Start must follow) and throttles it at 2,000 kbit/s; it probes
# again and iperf3 runs up and down for 10 s each; then the throttle goes to
# 50,000 kbit/s and iperf3 runs again.
RATES=(2000 50000)
policy_run() {
  echo "== policy"
  ip netns exec "$NS" iperf3 -s -B 10.200.0.1 > "$RUN/iperf3-server.log" 2>&1 &
  AUX_PIDS+=($!)
  "$PEER/lac-vm.sh" --netns "$NS" --lns 10.254.254.1 --timeout 300 "${VM_TAP[@]}" --sessions 1 --auth chap \
    --first-index 1 --ping-target $GARDEN_OK --probe-route 10.250.0.0/24 --probe-route 10.200.0.53/32 \
    --probe ping:$GARDEN_NO --probe http:$GARDEN_NO:80 --probe dns:10.200.0.53:portal.test \
    --probe-after ping:$GARDEN_NO --probe-after http:$GARDEN_NO:80 --pause 12 \
    --transfer 10.200.0.1:5201 --transfer-time 10 --transfer-both --transfer-again 5 \
    ${VM_ARGS:-} > "$RUN/policy.out" 2>&1 &
  local vm=$!
  wait_line() {
    for _ in $(seq 1 1500); do grep -q "$1" "$RUN/policy.out" && return 0; kill -0 $vm 2>/dev/null || break; sleep 0.2; done
    grep -q "$1" "$RUN/policy.out"
  }
  nsctl() { ip netns exec "$NS" /usr/sbin/nsctl -h 127.0.0.1 "$@" || { echo "FAIL: nsctl $*"; rc=1; }; }
  wait_line PEER-HOLDING || echo "FAIL: the VM never held its session"
  local starts_before sid
  starts_before=$(cat "$RUN"/radlog/radacct/*/detail-* 2>/dev/null | grep -c "Acct-Status-Type = Start" || true)
  sid=$(grep "session up" "$RUN/lns.log" | grep -o 'tunnel=[0-9]* session=[0-9]*' | head -1 | awk -F'[= ]' '{ print $2 * 65536 + $4 }')
  grep "session up" "$RUN/lns.log" | grep -q "garden=true" || { echo "FAIL: the refused login is not gardened"; rc=1; }
  nsctl ungarden "$sid"
  nsctl throttle user1 "${RATES[0]}"
  if wait_line PEER-TRANSFERRED; then
    nsctl unthrottle user1
    nsctl throttle user1 "${RATES[1]}"
  else
    echo "FAIL: no second round of transfers"; rc=1
  fi
  wait $vm || rc=1
  cat "$RUN/policy.out"
  local starts_after
  starts_after=$(cat "$RUN"/radlog/radacct/*/detail-* 2>/dev/null | grep -c "Acct-Status-Type = Start" || true)
  echo "GARDEN sid=$sid acct_starts_while_gardened=$starts_before acct_starts_after_ungarden=$starts_after"
  [ "$starts_before" = 0 ] && [ "$starts_after" = 1 ] || rc=1
  probe() { grep "^PROBE phase=$1 kind=$2 target=$3 " "$RUN/policy.out" | grep -q "$4" || { echo "FAIL: probe $*"; rc=1; }; }
  probe before ping $GARDEN_NO result=fail
  probe before http $GARDEN_NO:80 "result=ok detail=PORTAL"
  probe before dns 10.200.0.53:portal.test "result=ok detail=$PORTAL"
  probe after ping $GARDEN_NO result=ok
  probe after http $GARDEN_NO:80 "result=ok detail=ELSEWHERE"
  # The IP rate implied by iperf3's goodput (1448 of 1500 bytes) within 5%
  # of the throttle (kbit of 1,024 bits), and goodput at least 90% of it.
  local line mbit round kbps reverse
  for round in 1 2; do
    kbps=${RATES[$((round - 1))]}
    for reverse in 0 1; do
      line=$(grep "^TRANSFER .* round=$round .* reverse=$reverse " "$RUN/policy.out" || true)
      mbit=$(echo "$line" | grep -o 'mbit_s=[0-9.]*' | cut -d= -f2)
      if [ -z "$mbit" ] || ! echo "$mbit" | awk -v k="$kbps" '{ r = k * 1024 / 1e6; ip = $1 * 1500 / 1448; exit !($1 >= 0.9 * r && ip <= 1.05 * r && ip >= 0.95 * r) }'; then
        echo "FAIL: throttled transfer at $kbps kbit/s reverse=$reverse: $line"; rc=1
      else
        echo "THROTTLE reverse=$reverse kbps=$kbps goodput_mbit_s=$mbit"
      fi
    done
  done
  grep -q "result=PASS" "$RUN/policy.out" || rc=1
}
if [ "$MODE" = restart ]; then
  restart_run
elif [ "$MODE" = policy ]; then
  policy_run
elif [ "$MODE" = fastpath ]; then
  run_vm pap --sessions "$SESSIONS" --auth pap --first-index 1
else
run_vm pap --sessions "$SESSIONS" --auth pap --first-index 1
run_vm chap --sessions "$SESSIONS" --auth chap --first-index $((SESSIONS + 1))
fi
[ "$MODE" = secrets ] && run_vm tunnel-auth --sessions 2 --auth chap --first-index $((SESSIONS * 2 + 1)) --tunnel-secret tunnel-s3cret --hide-avps
if [ "$MODE" = radius ]; then
  sleep 2
  starts=$(cat "$RUN"/radlog/radacct/*/detail-* 2>/dev/null | grep -c "Acct-Status-Type = Start" || true)
  stops=$(cat "$RUN"/radlog/radacct/*/detail-* 2>/dev/null | grep -c "Acct-Status-Type = Stop" || true)
  echo "ACCOUNTING starts=$starts stops=$stops"
  [ "$starts" = $((SESSIONS * 2)) ] && [ "$stops" = $((SESSIONS * 2)) ] || rc=1
fi
if [ -n "$CAP_PID" ]; then
  sleep 1; kill -INT "$CAP_PID" 2>/dev/null || true; wait "$CAP_PID" 2>/dev/null || true; CAP_PID=""
  # iperf3's payload is random bytes: decoded as plain data, or a heuristic
  # dissector (Thrift, seen once) may take a segment for its protocol and
  # call it malformed. Everything from L2TP down to TCP is still checked.
  TS=(tshark -r "$RUN/real.pcap" -d tcp.port==5201,data -d udp.port==5201,data)
  frames=$("${TS[@]}" 2>/dev/null | wc -l)
  bad=$("${TS[@]}" -Y '_ws.malformed || _ws.expert.severity >= "error"' 2>/dev/null | wc -l)
  ppp=$("${TS[@]}" -Y 'ppp' 2>/dev/null | wc -l)
  echo "CAPTURE frames=$frames ppp=$ppp malformed_or_error=$bad"
  if [ "$bad" != 0 ] || [ "$ppp" = 0 ]; then
    "${TS[@]}" -Y '_ws.malformed || _ws.expert.severity >= "error"' 2>/dev/null | head -20
    rc=1
  fi
fi
ip netns exec "$NS" true
kill -USR1 "$LNS_PID"; sleep 0.5
status=$(grep -h " status " "$RUN"/lns*.log | tail -1)
echo "$status"
if [ "$DATA_PATH" = bpf ]; then
  # The programs must have carried the pings both ways (the VM's kernel
  # L2TP sends zero UDP checksums, as Linux does by default over IPv4).
  grep -q "data path: kernel fast path" "$RUN"/lns*.log || { echo "FAIL: the fast path did not start"; rc=1; }
  up=$(echo "$status" | grep -o 'fast_path_up_packets=[0-9]*' | cut -d= -f2)
  down=$(echo "$status" | grep -o 'fast_path_down_packets=[0-9]*' | cut -d= -f2)
  echo "FASTPATH up_packets=${up:-0} down_packets=${down:-0}"
  [ "${up:-0}" -gt 0 ] && [ "${down:-0}" -gt 0 ] || { echo "FAIL: the fast path forwarded nothing one way"; rc=1; }
fi
if [ $rc = 0 ]; then echo "REAL-CLIENT PASS mode=$MODE"; else echo "REAL-CLIENT FAIL (log: $RUN/lns.log)"; tail -50 "$RUN/lns.log"; fi
exit $rc

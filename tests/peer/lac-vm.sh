#!/bin/bash
# lac-vm.sh - boots the peer VM (build-image.sh) and uses it as a real L2TP
# Access Concentrator with real PPP clients (Linux kernel PPP/L2TP, xl2tpd,
# pppd) against an LNS on this machine: N sessions, a ping through each, an
# optional iperf3 transfer. Prints one SESSION line per session and a SUMMARY
# line (result=PASS|FAIL); exit 0 only on PASS.
#
# Usage: lac-vm.sh --lns ADDR[:PORT] [options]
#   --lns ADDR[:PORT]     the LNS as seen from the namespace qemu runs in (port 1701)
#   --netns NS            run qemu in network namespace NS, with a tap device there
#                         (host side 10.254.254.1/30, guest 10.254.254.2)
#   --net tap|user        tap (default with --netns) or qemu user networking (slirp;
#                         default without --netns; --lns 127.x reaches the loopback
#                         of the namespace qemu runs in)
#   --tap NAME            tap device name (default pa-peer0)
#   --tap-net A.B.C       the tap's /30: host A.B.C.1, guest A.B.C.2 (default 10.254.254)
#   --tap-exists          use the tap NAME already in NS with its address, and leave it
#                         there (an LNS whose kernel fast path attaches to interfaces
#                         at its start needs the tap before it starts)
#   --sessions N          PPP sessions, 1..250 (default 1), one xl2tpd each
#   --user-pattern PAT    printf pattern of the user names (default user%d)
#   --first-index I       index of the first user (default 1)
#   --password PW         every user's password (default pa-pass)
#   --auth pap|chap       the only authentication pppd accepts (default pap)
#   --tunnel-secret S     L2TP tunnel authentication: xl2tpd challenges the LNS in
#                         SCCRQ and checks its answer with secret S (1-64 printable
#                         characters, no blank, '#' or ';')
#   --hide-avps           xl2tpd "hidden bit = yes" (needs --tunnel-secret); see README
#   --ping-target ADDR    ping this through each session (default: the peer address
#                         from IPCP); --ping-count N (3); --max-loss PCT (0)
#   --no-require-dns      a session without DNS servers from IPCP still passes
#   --transfer HOST:PORT  iperf3 client through the first session (after --pause and
#                         its probes); --transfer-time S (3), --transfer-bytes N (instead
#                         of a time), --transfer-reverse, --transfer-both (up, then down),
#                         --transfer-again S (print PEER-TRANSFERRED, wait S s, transfer
#                         again: round=2 in the TRANSFER lines)
#   --connect-interval S  pause between connect requests (default 0.05)
#   --probe KIND:ARGS     after the pings, probe through the first session and print a
#                         PROBE line (result=ok|fail): ping:ADDR, http:ADDR:PORT (the
#                         body's first line in detail=), dns:SERVER:NAME (nslookup);
#                         repeatable. --probe-after: the same after --pause.
#   --probe-route CIDR    route CIDR through the first session (for http/dns probes,
#                         which cannot name an interface); repeatable
#   --pause S             after the first report, print PEER-HOLDING and wait S s
#                         (the LNS may be restarted meanwhile), then ping through every
#                         session again and count PPP negotiation packets since
#                         (AFTER lines; any renegotiation fails the run)
#   --timeout S           hard limit of the whole run, VM included (default 180)
#   --mem MB              guest memory (default 256)
#   --accel auto|kvm|tcg  auto (default): KVM only if kvm_intel or kvm_amd is loaded,
#                         back to TCG if the guest shows no life in 20 s
#   --show-ppp-log N      print pppd's log of the first N sessions (PPPLOG lines)
#   --console-log FILE    keep the VM's whole serial console in FILE
#   --debug               kernel messages, xl2tpd debug, every console line
# Environment: PEER_VM_DIR (image, default <repository>/target/peer-vm; built
# by build-image.sh if missing).
# Exit: 0 PASS, 1 a check failed, 2 usage error, 3 no result (timeout, VM failure).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
T_START=$(date +%s.%N)

usage_error() { echo "lac-vm: $*" >&2; exit 2; }

# --- options -----------------------------------------------------------------------
LNS=""; NETNS=""; NET=""; TAP=pa-peer0; TAP_NET=10.254.254
SESSIONS=1; USER_PATTERN='user%d'; FIRST_INDEX=1; PASSWORD=pa-pass; AUTH=pap
TUNNEL_SECRET=""; HIDE_AVPS=0
PING_TARGET=""; PING_COUNT=3; MAX_LOSS=0; REQUIRE_DNS=1
TRANSFER=""; TRANSFER_TIME=3; TRANSFER_BYTES=""; TRANSFER_REVERSE=0
CONNECT_INTERVAL=0.05; PAUSE=0; TIMEOUT=180; MEM=256; ACCEL=auto
SHOW_PPP_LOG=0; CONSOLE_LOG=""; DEBUG=0; TAP_EXISTS=0
PROBES=""; PROBES_AFTER=""; PROBE_ROUTES=""; TRANSFER_AGAIN=0
while [ $# -gt 0 ]; do
  opt=$1
  case "$opt" in
    --hide-avps) HIDE_AVPS=1; shift; continue ;;
    --no-require-dns) REQUIRE_DNS=0; shift; continue ;;
    --transfer-reverse) TRANSFER_REVERSE=1; shift; continue ;;
    --transfer-both) TRANSFER_REVERSE=both; shift; continue ;;
    --debug) DEBUG=1; shift; continue ;;
    --tap-exists) TAP_EXISTS=1; shift; continue ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  esac
  [ $# -ge 2 ] || usage_error "$opt needs a value (see --help)"
  val=$2; shift 2
  case "$opt" in
    --lns) LNS=$val ;;
    --netns) NETNS=$val ;;
    --net) NET=$val ;;
    --tap) TAP=$val ;;
    --tap-net) TAP_NET=$val ;;
    --sessions) SESSIONS=$val ;;
    --user-pattern) USER_PATTERN=$val ;;
    --first-index) FIRST_INDEX=$val ;;
    --password) PASSWORD=$val ;;
    --auth) AUTH=$val ;;
    --tunnel-secret) TUNNEL_SECRET=$val ;;
    --ping-target) PING_TARGET=$val ;;
    --ping-count) PING_COUNT=$val ;;
    --max-loss) MAX_LOSS=$val ;;
    --transfer) TRANSFER=$val ;;
    --transfer-time) TRANSFER_TIME=$val ;;
    --transfer-bytes) TRANSFER_BYTES=$val ;;
    --transfer-again) TRANSFER_AGAIN=$val ;;
    --connect-interval) CONNECT_INTERVAL=$val ;;
    --pause) PAUSE=$val ;;
    --probe) PROBES="$PROBES $val" ;;
    --probe-after) PROBES_AFTER="$PROBES_AFTER $val" ;;
    --probe-route) PROBE_ROUTES="$PROBE_ROUTES $val" ;;
    --timeout) TIMEOUT=$val ;;
    --mem) MEM=$val ;;
    --accel) ACCEL=$val ;;
    --show-ppp-log) SHOW_PPP_LOG=$val ;;
    --console-log) CONSOLE_LOG=$val ;;
    *) usage_error "unknown option $opt (see --help)" ;;
  esac
done

is_number() { [[ "$1" =~ ^[0-9]+$ ]]; }
[ -n "$LNS" ] || usage_error "--lns ADDR[:PORT] is required"
LNS_ADDR=${LNS%%:*}; LNS_PORT=1701
[ "$LNS" = "$LNS_ADDR" ] || LNS_PORT=${LNS#*:}
is_number "$LNS_PORT" || usage_error "--lns ADDR[:PORT]: bad port $LNS_PORT"
is_number "$SESSIONS" && [ "$SESSIONS" -ge 1 ] && [ "$SESSIONS" -le 250 ] || usage_error "--sessions 1..250"
for n in FIRST_INDEX PING_COUNT MAX_LOSS TIMEOUT MEM SHOW_PPP_LOG PAUSE TRANSFER_AGAIN; do
  is_number "${!n}" || usage_error "--$(tr 'A-Z_' 'a-z-' <<<"$n") needs a number"
done
case "$AUTH" in pap|chap) ;; *) usage_error "--auth pap|chap" ;; esac
case "$ACCEL" in auto|kvm|tcg) ;; *) usage_error "--accel auto|kvm|tcg" ;; esac
if [ -n "$TUNNEL_SECRET" ]; then
  # xl2tpd's secrets file: blanks separate fields, '#' and ';' start comments
  [[ ${#TUNNEL_SECRET} -le 64 && "$TUNNEL_SECRET" =~ ^[!-~]+$ && "$TUNNEL_SECRET" != *[\#\;]* ]] ||
    usage_error "--tunnel-secret: 1-64 printable characters, no blank, '#' or ';'"
fi
[ "$HIDE_AVPS" = 0 ] || [ -n "$TUNNEL_SECRET" ] || usage_error "--hide-avps needs --tunnel-secret"
TUNNEL_AUTH=off; [ -z "$TUNNEL_SECRET" ] || TUNNEL_AUTH=on
HIDDEN=off; [ "$HIDE_AVPS" = 0 ] || HIDDEN=on
[ -n "$NET" ] || { if [ -n "$NETNS" ]; then NET=tap; else NET=user; fi; }
case "$NET" in
  tap) [ -n "$NETNS" ] || usage_error "--net tap needs --netns (the tap goes there)" ;;
  user) ;;
  *) usage_error "--net tap|user" ;;
esac
if [ -n "$NETNS" ] && ! ip netns list | awk '{ print $1 }' | grep -qx -- "$NETNS"; then
  usage_error "no network namespace $NETNS"
fi
command -v qemu-system-x86_64 > /dev/null ||
  { echo "lac-vm: qemu-system-x86_64 missing (apt-get install qemu-system-x86)" >&2; exit 3; }

# --- image ------------------------------------------------------------------------------
IMG=${PEER_VM_DIR:-$ROOT/target/peer-vm}
if [ ! -s "$IMG/vmlinuz" ] || [ ! -s "$IMG/initrd.img" ] || [ ! -x "$IMG/busybox" ]; then
  echo "lac-vm: no image in $IMG: running build-image.sh" >&2
  PEER_VM_DIR=$IMG bash "$HERE/build-image.sh" >&2
fi
IMG=$(cd "$IMG" && pwd)

# --- run directory, cleanup ---------------------------------------------------------------
RUN=$(mktemp -d "${TMPDIR:-/tmp}/peer-lac-vm.XXXXXX")
QEMU_PID=""; TAP_MADE=0
stop_qemu() {
  [ -n "$QEMU_PID" ] || return 0
  kill "$QEMU_PID" 2> /dev/null || true
  for _ in 1 2 3 4 5; do kill -0 "$QEMU_PID" 2> /dev/null || break; sleep 0.1; done
  kill -9 "$QEMU_PID" 2> /dev/null || true
  wait "$QEMU_PID" 2> /dev/null || true
  QEMU_PID=""
}
cleanup() {
  stop_qemu
  [ "$TAP_MADE" = 0 ] || ip -n "$NETNS" link del "$TAP" 2> /dev/null || true
  [ -z "$CONSOLE_LOG" ] || [ ! -f "$RUN/console.log" ] || cp "$RUN/console.log" "$CONSOLE_LOG"
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- network ------------------------------------------------------------------------------
if [ "$NET" = tap ]; then
  GUEST_IP=$TAP_NET.2; GUEST_PREFIX=30; GUEST_GW=""; GUEST_LNS=$LNS_ADDR
  if [ "$TAP_EXISTS" = 1 ]; then
    ip -n "$NETNS" link show "$TAP" > /dev/null 2>&1 ||
      usage_error "--tap-exists: no $TAP in $NETNS"
  else
    ! ip -n "$NETNS" link show "$TAP" > /dev/null 2>&1 ||
      usage_error "$TAP already exists in $NETNS (another run? --tap NAME)"
    ip -n "$NETNS" tuntap add dev "$TAP" mode tap
    TAP_MADE=1
    ip -n "$NETNS" addr add "$TAP_NET.1/30" dev "$TAP"
    ip -n "$NETNS" link set "$TAP" up
  fi
  NETDEV="tap,id=n0,ifname=$TAP,script=no,downscript=no"
else
  GUEST_IP=10.0.2.15; GUEST_PREFIX=24; GUEST_GW=10.0.2.2
  case "$LNS_ADDR" in 127.*) GUEST_LNS=10.0.2.2 ;; *) GUEST_LNS=$LNS_ADDR ;; esac
  NETDEV="user,id=n0,net=10.0.2.0/24,host=10.0.2.2,restrict=off"
fi

# --- this run's initramfs: the image + /peer/config, guest/lac.sh, the pppd hooks ---------
mkdir -p "$RUN/extra/peer" "$RUN/extra/etc/ppp"
for v in SESSIONS USER_PATTERN FIRST_INDEX PASSWORD AUTH TUNNEL_SECRET HIDE_AVPS \
         TUNNEL_AUTH HIDDEN GUEST_IP GUEST_PREFIX GUEST_GW PING_TARGET PING_COUNT MAX_LOSS \
         REQUIRE_DNS TRANSFER TRANSFER_TIME TRANSFER_BYTES TRANSFER_REVERSE \
         CONNECT_INTERVAL SHOW_PPP_LOG PAUSE DEBUG PROBES PROBES_AFTER PROBE_ROUTES TRANSFER_AGAIN; do
  printf '%s=%q\n' "$v" "${!v}"
done > "$RUN/extra/peer/config"
{
  printf 'LNS_ADDR=%q\nLNS_PORT=%q\n' "$GUEST_LNS" "$LNS_PORT"
  # the guest gives up waiting for sessions well before the host's hard limit
  echo "SETUP_TIMEOUT=$(( TIMEOUT > 60 ? TIMEOUT / 2 : TIMEOUT / 3 ))"
} >> "$RUN/extra/peer/config"
install -m 755 "$HERE/guest/lac.sh" "$RUN/extra/peer/lac.sh"
install -m 755 "$HERE"/guest/ppp/* "$RUN/extra/etc/ppp/"
(cd "$RUN/extra" && find . | "$IMG/busybox" cpio -o -H newc 2> /dev/null) | gzip -1 > "$RUN/extra.cpio.gz"
cat "$IMG/initrd.img" "$RUN/extra.cpio.gz" > "$RUN/initrd.img"  # the kernel unpacks both

# --- qemu ------------------------------------------------------------------------------------
# KVM needs real hardware virtualization: a /dev/kvm from kvm_pvm (a PVM host module)
# only runs PVM guest kernels and Debian's kernel hangs early there, so "auto" uses
# KVM only with kvm_intel/kvm_amd, and still falls back to TCG if the guest is silent.
hardware_kvm() {
  [ -r /dev/kvm ] && [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }
}
case "$ACCEL" in
  auto) if hardware_kvm; then USE=kvm; else USE=tcg; fi ;;
  *) USE=$ACCEL ;;
esac
KERNEL_LOG="loglevel=1 quiet"; [ "$DEBUG" = 0 ] || KERNEL_LOG="loglevel=7"
start_qemu() {  # $1 kvm|tcg; sets QEMU_PID (ip netns exec execs: the PID is qemu's)
  local accel=(-accel tcg -cpu max) ns=()
  [ "$1" = tcg ] || accel=(-enable-kvm -cpu host)
  [ -z "$NETNS" ] || ns=(ip netns exec "$NETNS")
  : > "$RUN/console.log"
  "${ns[@]}" qemu-system-x86_64 -nodefaults -no-user-config -nographic -no-reboot \
    "${accel[@]}" -smp 1 -m "$MEM" \
    -kernel "$IMG/vmlinuz" -initrd "$RUN/initrd.img" \
    -append "console=ttyS0 $KERNEL_LOG panic=-1 net.ifnames=0" \
    -netdev "$NETDEV" -device virtio-net-pci,netdev=n0,romfile= \
    -chardev "file,id=con,path=$RUN/console.log" -serial chardev:con \
    -monitor none > "$RUN/qemu.out" 2>&1 &
  QEMU_PID=$!
}
guest_alive() { grep -q 'PEER-' "$RUN/console.log"; }
start_qemu "$USE"
if [ "$USE" = kvm ] && [ "$ACCEL" = auto ]; then
  for _ in $(seq 1 100); do  # 20 s
    guest_alive || ! kill -0 "$QEMU_PID" 2> /dev/null && break
    sleep 0.2
  done
  if ! guest_alive; then
    echo "lac-vm: no sign of the guest under KVM after 20 s: TCG instead" >&2
    stop_qemu; USE=tcg; start_qemu tcg
  fi
fi
echo "VM qemu_pid=$QEMU_PID accel=$USE net=$NET${NETNS:+ netns=$NETNS} guest_ip=$GUEST_IP lns=$GUEST_LNS:$LNS_PORT sessions=$SESSIONS auth=$AUTH tunnel_auth=$TUNNEL_AUTH hidden=$HIDDEN"

# --- follow the console until the VM powers off (or the time is up) --------------------------
if [ "$DEBUG" = 1 ]; then SHOW='.'; else SHOW='^(SESSION|AFTER|PROBE|TRANSFER|SUMMARY|PPPLOG|IPERFLOG|XL2TPDLOG|PEER-)'; fi
plain() { sed -E 's/\r//g; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b.//g'; }
SHOWN=0
show_new_lines() {  # complete new console lines that match SHOW
  local total
  total=$(wc -l < "$RUN/console.log")
  [ "$total" -gt "$SHOWN" ] || return 0
  sed -n "$((SHOWN + 1)),${total}p" "$RUN/console.log" | plain |
    sed -E 's/^.+(PEER-[A-Z]+ )/\1/' | grep -E "$SHOW" || true
  SHOWN=$total
}
DEADLINE=$(echo "$T_START + $TIMEOUT" | bc)
T_GUEST=""
while kill -0 "$QEMU_PID" 2> /dev/null; do
  [ -n "$T_GUEST" ] || ! grep -q 'PEER-BOOT' "$RUN/console.log" || T_GUEST=$(date +%s.%N)
  if [ "$(echo "$(date +%s.%N) > $DEADLINE" | bc)" = 1 ]; then
    echo "lac-vm: timeout after $TIMEOUT s: stopping the VM" >&2
    break
  fi
  show_new_lines
  sleep 0.2
done
stop_qemu
echo >> "$RUN/console.log"  # a last line without its newline
show_new_lines

T_END=$(date +%s.%N)
BOOT=-; [ -z "$T_GUEST" ] || BOOT=$(echo "scale=2; ($T_GUEST - $T_START) / 1" | bc)
echo "HOST wall_s=$(echo "scale=2; ($T_END - $T_START) / 1" | bc) boot_to_guest_script_s=$BOOT accel=$USE"
SUMMARY=$(plain < "$RUN/console.log" | grep '^SUMMARY' | tail -1 || true)
if [ -z "$SUMMARY" ]; then
  echo "lac-vm: no SUMMARY from the guest; the console's last lines:" >&2
  plain < "$RUN/console.log" | tail -30 >&2
  [ ! -s "$RUN/qemu.out" ] || { echo "qemu said:" >&2; cat "$RUN/qemu.out" >&2; }
  exit 3
fi
case "$SUMMARY" in *result=PASS*) exit 0 ;; *) exit 1 ;; esac

#!/bin/sh
# lac.sh - runs inside the peer VM (busybox sh), started by /init. Plays the
# L2TP Access Concentrator and the PPP clients against the LNS named in
# /peer/config (written by lac-vm.sh): one xl2tpd + one pppd per session,
# waits for IPCP, pings through every session, optionally runs iperf3 through
# the first one, prints one SESSION line per session, a TRANSFER line and a
# SUMMARY line on the console, then hangs up every call (CDN, StopCCN).
#
# Layout of a run: /etc/xl2tpd/<user>.conf, /etc/ppp/options.<user> (made
# here), /etc/ppp/ip-up and ip-down (guest/ppp/, record /run/peer/up.<user>),
# logs in /run/peer/{xl2tpd,ppp,ping}.<user>.
. /peer/config

uptime_s() { cut -d' ' -f1 /proc/uptime; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
field() {  # field NAME FILE: value of NAME=... in a "k=v k=v" line
  tr ' ' '\n' < "$2" | sed -n "s/^$1=//p"
}

setup_network() {
  [ "$DEBUG" = 1 ] || dmesg -n 1
  ip link set eth0 up
  ip addr add "$GUEST_IP/$GUEST_PREFIX" dev eth0
  [ -z "$GUEST_GW" ] || ip route add default via "$GUEST_GW"
}

# pppd options of one session. IPv6 work extends this (+ipv6, ipv6cp-...) and
# adds guest/ppp/ipv6-up; see README.md.
write_ppp_options() {  # $1 user, $2 unit
  if [ "$AUTH" = pap ]; then refuse=refuse-chap; else refuse=refuse-pap; fi
  cat > "/etc/ppp/options.$1" <<EOF
user $1
password $PASSWORD
noauth
$refuse
refuse-eap
refuse-mschap
refuse-mschap-v2
noipdefault
ipcp-accept-local
ipcp-accept-remote
usepeerdns
nodefaultroute
noccp
novj
ipparam $1
unit $2
debug
logfile /run/peer/ppp.$1.log
EOF
}

# One xl2tpd per session, each on its own local UDP port (1701, 1702, ...):
# in kernel mode xl2tpd connects each tunnel's UDP socket, and tunnels sharing
# a 4-tuple (local port, LNS address:port) steal each other's packets, so one
# xl2tpd with many [lac] sections would bring up only its newest tunnel.
write_xl2tpd_conf() {  # $1 user, $2 local port
  {
    echo "[global]"
    echo "port = $2"
    echo "access control = no"
    [ -z "$TUNNEL_SECRET" ] || echo "auth file = /etc/xl2tpd/l2tp-secrets"
    [ "$DEBUG" != 1 ] || printf 'debug avp = yes\ndebug network = yes\ndebug state = yes\ndebug tunnel = yes\n'
    echo "[lac $1]"
    echo "lns = $LNS_ADDR:$LNS_PORT"
    echo "redial = no"
    echo "autodial = no"
    echo "require authentication = no"
    echo "length bit = yes"
    [ -z "$TUNNEL_SECRET" ] || echo "challenge = yes"
    [ "$HIDE_AVPS" != 1 ] || echo "hidden bit = yes"
    echo "pppoptfile = /etc/ppp/options.$1"
  } > "/etc/xl2tpd/$1.conf"
}

start_lacs() {
  if [ -n "$TUNNEL_SECRET" ]; then
    # our host name, theirs ('*' = any), the shared secret (RFC 2661 5.1.1)
    printf '* * %s\n' "$TUNNEL_SECRET" > /etc/xl2tpd/l2tp-secrets
    chmod 600 /etc/xl2tpd/l2tp-secrets
  fi
  USERS=""; XL2TPD_PIDS=""
  i=0
  while [ $i -lt "$SESSIONS" ]; do
    u=$(printf "$USER_PATTERN" $((FIRST_INDEX + i)))
    USERS="$USERS $u"
    write_ppp_options "$u" "$i"
    write_xl2tpd_conf "$u" $((1701 + i))
    xl2tpd -D -c "/etc/xl2tpd/$u.conf" -p "/run/xl2tpd/$u.pid" -C "/run/xl2tpd/$u.ctl" \
      > "/run/peer/xl2tpd.$u.log" 2>&1 &
    XL2TPD_PIDS="$XL2TPD_PIDS $!"
    i=$((i + 1))
  done
  for u in $USERS; do  # each control fifo exists once its xl2tpd is ready
    k=0; while [ ! -p "/run/xl2tpd/$u.ctl" ] && [ $k -lt 100 ]; do sleep 0.1; k=$((k + 1)); done
  done
  FIRST_USER=${USERS# }; FIRST_USER=${FIRST_USER%% *}
  if grep -q "kernel support" "/run/peer/xl2tpd.$FIRST_USER.log"; then MODE=kernel; else MODE=userspace; fi
  echo "PEER-XL2TPD instances=$SESSIONS mode=$MODE lns=$LNS_ADDR:$LNS_PORT local_ports=1701-$((1700 + SESSIONS)) auth=$AUTH tunnel_auth=$TUNNEL_AUTH hidden=$HIDDEN"
}

connect_all() {
  T_CONNECT=$(uptime_s)
  for u in $USERS; do
    xl2tpd-control -c "/run/xl2tpd/$u.ctl" connect-lac "$u" > /dev/null 2>&1 ||
      echo "c $u" > "/run/xl2tpd/$u.ctl"
    sleep "$CONNECT_INTERVAL"
  done
  echo "PEER-CONNECT requested=$SESSIONS after_s=$(minus "$(uptime_s)" "$T_CONNECT")"
}

# xl2tpd closed the tunnel before any pppd ran (StopCCN sent or received, e.g.
# failed tunnel authentication, or the LNS never answered; redial = no).
TUNNEL_CLOSED='Connection [0-9]+ closed to|Connection closed to|Maximum retries exceeded'
tunnel_closed() { grep -qE "$TUNNEL_CLOSED" "/run/peer/xl2tpd.$1.log" 2>/dev/null; }
tunnel_reason() {  # e.g. tunnel:Invalid_challenge_authentication
  line=$(grep -hE "$TUNNEL_CLOSED" "/run/peer/xl2tpd.$1.log" | head -1)
  case "$line" in
    *Maximum*) echo tunnel:no_answer_max_retries ;;
    *'('*) echo "tunnel:$(echo "$line" | sed 's/^[^(]*(\([^)]*\)).*/\1/' | tr -s ' \t' '__')" ;;
    *) echo tunnel:closed ;;
  esac
}
session_finished() {  # up, or its pppd gave up, or its tunnel is gone
  [ -f "/run/peer/up.$1" ] || grep -qE 'Connection terminated|^Exit' "/run/peer/ppp.$1.log" 2>/dev/null ||
    { [ ! -f "/run/peer/ppp.$1.log" ] && tunnel_closed "$1"; }
}

# Wait until every session is up or finished, at most SETUP_TIMEOUT seconds.
wait_sessions() {
  deadline=$(awk -v a="$T_CONNECT" -v b="$SETUP_TIMEOUT" 'BEGIN { print a + b }')
  while :; do
    done_n=0
    for u in $USERS; do session_finished "$u" && done_n=$((done_n + 1)); done
    [ $done_n -ge "$SESSIONS" ] && break
    awk -v a="$(uptime_s)" -v d="$deadline" 'BEGIN { exit !(a > d) }' && break
    sleep 0.2
  done
  N_UP=0; T_LAST=$T_CONNECT
  for u in $USERS; do
    [ -f "/run/peer/up.$u" ] || continue
    N_UP=$((N_UP + 1))
    T_LAST=$(awk -v a="$T_LAST" -v b="$(field t "/run/peer/up.$u")" 'BEGIN { print (b > a) ? b : a }')
  done
  SETUP_S=$(minus "$T_LAST" "$T_CONNECT")
  echo "PEER-SETUP up=$N_UP/$SESSIONS setup_s=$SETUP_S"
}

# Every session's address routes through its own ppp unit (policy routing,
# table 100+i), then all sessions ping at once, each through its interface.
route_and_ping() {
  i=0
  for u in $USERS; do
    f=/run/peer/up.$u
    if [ -f "$f" ]; then
      ip rule add from "$(field local "$f")" lookup $((100 + i)) pref $((1000 + i))
      ip route add default dev "$(field if "$f")" table $((100 + i))
    fi
    i=$((i + 1))
  done
  ping_all ping
}

ping_all() {  # $1: result file prefix (/run/peer/$1.<user>)
  pids=""
  for u in $USERS; do
    f=/run/peer/up.$u
    [ -f "$f" ] || continue
    target=${PING_TARGET:-$(field remote "$f")}
    (ping -c "$PING_COUNT" -W 3 -I "$(field if "$f")" "$target" > "/run/peer/$1.$u" 2>&1
     echo "rc=$?" >> "/run/peer/$1.$u") &
    pids="$pids $!"
  done
  for p in $pids; do wait "$p"; done
}

# PPP negotiation packets in pppd's debug log (LCP Configure/Terminate,
# IPCP, PAP, CHAP; echoes do not count).
negotiation_count() {
  grep -cE '(rcvd|sent) \[(LCP (Conf|Term)|IPCP|PAP|CHAP)' "/run/peer/ppp.$1.log" 2>/dev/null || true
}

# --pause: hold the sessions while the host may restart the LNS, then
# ping through each again; a session passes when its ping works, its pppd
# is still running and it negotiated nothing meanwhile.
pause_and_ping_again() {
  N_AFTER=skip; N_RENEG=0
  [ "$PAUSE" -gt 0 ] || return 0
  for u in $USERS; do negotiation_count "$u" > "/run/peer/neg.$u"; done
  echo "PEER-HOLDING pause_s=$PAUSE"
  sleep "$PAUSE"
  ping_all after
  N_AFTER=0
  for u in $USERS; do
    [ -f "/run/peer/up.$u" ] || continue
    p=/run/peer/after.$u
    recv=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' "$p")
    reneg=$(( $(negotiation_count "$u") - $(cat "/run/peer/neg.$u") ))
    N_RENEG=$((N_RENEG + reneg))
    ended=no; grep -qE 'Connection terminated|Modem hangup|^Exit' "/run/peer/ppp.$u.log" && ended=yes
    result=PASS
    if [ "${recv:-0}" -eq 0 ] || [ "$reneg" -ne 0 ] || [ $ended = yes ]; then result=FAIL; else N_AFTER=$((N_AFTER + 1)); fi
    echo "AFTER $u recv=${recv:-0} negotiation_packets=$reneg ended=$ended result=$result"
  done
}

down_reason() {  # why a session never reached ip-up
  r=$(grep -hE 'authentication failed|failed|refused|timeout|No response|rejected|Terminat' \
        "/run/peer/ppp.$1.log" 2>/dev/null | grep -v 'Connection terminated' | head -1)
  [ -n "$r" ] || r=$(grep -h 'Connection terminated' "/run/peer/ppp.$1.log" 2>/dev/null | head -1)
  if [ -n "$r" ]; then echo "$r" | tr -s ' \t' '__'
  elif tunnel_closed "$1"; then tunnel_reason "$1"
  else echo no_ipcp; fi
}

report_sessions() {
  N_PASS=0; N_IP=0; N_DNS=0; N_PING=0
  for u in $USERS; do
    f=/run/peer/up.$u
    if [ ! -f "$f" ]; then
      echo "SESSION $u state=down reason=$(down_reason "$u") ping=skip result=FAIL"
      continue
    fi
    local_ip=$(field local "$f"); remote=$(field remote "$f")
    dns=$(echo "$(field dns1 "$f"),$(field dns2 "$f")" | sed 's/^,//; s/,$//')
    [ -n "$dns" ] || dns=none
    p=/run/peer/ping.$u
    sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$p")
    recv=$(sed -n 's/.* \([0-9]*\) packets received.*/\1/p' "$p")
    loss=$(sed -n 's/.* \([0-9]*\)% packet loss.*/\1/p' "$p")
    rtt=$(sed -n 's#^round-trip min/avg/max = [0-9.]*/\([0-9.]*\)/.*#\1#p' "$p")
    result=PASS; ping=ok
    if [ "${recv:-0}" -eq 0 ] || [ "${loss:-100}" -gt "$MAX_LOSS" ]; then ping=fail; result=FAIL; fi
    if [ -n "$local_ip" ]; then N_IP=$((N_IP + 1)); else result=FAIL; fi
    if [ "$dns" != none ]; then N_DNS=$((N_DNS + 1)); elif [ "$REQUIRE_DNS" = 1 ]; then result=FAIL; fi
    [ $ping = fail ] || N_PING=$((N_PING + 1))
    [ $result = FAIL ] || N_PASS=$((N_PASS + 1))
    echo "SESSION $u if=$(field if "$f") ip=$local_ip peer=$remote dns=$dns ping_target=${PING_TARGET:-$remote} ping=$ping sent=${sent:-0} recv=${recv:-0} loss=${loss:-100}% rtt_avg_ms=${rtt:--} up_after_s=$(minus "$(field t "$f")" "$T_CONNECT") result=$result"
  done
}

show_logs() {
  k=0
  for u in $USERS; do  # pppd's negotiation log of the first SHOW_PPP_LOG sessions
    [ $k -lt "$SHOW_PPP_LOG" ] || break
    sed "s/^/PPPLOG $u /" "/run/peer/ppp.$u.log" 2>/dev/null
    k=$((k + 1))
  done
  for u in $USERS; do
    if [ "$DEBUG" = 1 ]; then
      tail -40 "/run/peer/xl2tpd.$u.log" | sed "s/^/XL2TPDLOG $u /"
    elif [ ! -f "/run/peer/up.$u" ] && [ ! -f "/run/peer/ppp.$u.log" ] && tunnel_closed "$u"; then
      # the first tunnel that failed on its own (e.g. tunnel authentication)
      grep -vE '^$|Written by|Forked|Inherited|Copyright|xl2tpd version|kernel support' \
        "/run/peer/xl2tpd.$u.log" | tail -6 | sed "s/^/XL2TPDLOG $u /"
      break
    fi
  done
}

# iperf3 client bound to the first session's address, so the data goes
# through its ppp unit (policy route of route_and_ping).
transfer() {
  TRANSFER_RESULT=skip
  [ -n "$TRANSFER" ] || return 0
  f=/run/peer/up.$FIRST_USER
  if [ ! -f "$f" ]; then
    TRANSFER_RESULT=fail
    echo "TRANSFER $FIRST_USER result=FAIL reason=session_down"
    return 0
  fi
  host=${TRANSFER%:*}; port=${TRANSFER##*:}
  if [ -n "$TRANSFER_BYTES" ]; then amount="-n $TRANSFER_BYTES"; else amount="-t $TRANSFER_TIME"; fi
  reverse=""; [ "$TRANSFER_REVERSE" = 1 ] && reverse=-R
  t0=$(uptime_s)
  # shellcheck disable=SC2086
  iperf3 -c "$host" -p "$port" -B "$(field local "$f")" $amount $reverse -f m \
    --connect-timeout 5000 > /run/peer/iperf.log 2>&1
  rc=$?
  wall=$(minus "$(uptime_s)" "$t0")
  receiver=$(grep -E ' receiver$' /run/peer/iperf.log | tail -1)
  sender=$(grep -E ' sender$' /run/peer/iperf.log | tail -1)
  mb=$(echo "$receiver" | awk '{ for (i = 1; i <= NF; i++) if ($i == "MBytes") print $(i - 1) }')
  mbit=$(echo "$receiver" | awk '{ for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i - 1) }')
  retr=$(echo "$sender" | awk '{ for (i = 1; i <= NF; i++) if ($i == "Mbits/sec") print $(i + 1) }')
  if [ $rc -eq 0 ] && [ -n "$mbit" ]; then TRANSFER_RESULT=ok; else TRANSFER_RESULT=fail; fi
  echo "TRANSFER $FIRST_USER round=$ROUND via=$(field if "$f") src=$(field local "$f") to=$host:$port tool=iperf3 $(echo $amount | tr -d ' ') reverse=$TRANSFER_REVERSE received_MB=${mb:--} mbit_s=${mbit:--} retransmits=${retr:--} wall_s=$wall result=$(echo $TRANSFER_RESULT | tr a-z A-Z)"
  [ $TRANSFER_RESULT = ok ] || tail -15 /run/peer/iperf.log | sed 's/^/IPERFLOG /'
}

# --probe: what the first session reaches (a walled garden lets it reach
# only some of it). One PROBE line each; probes never fail the run, the
# host judges them.
probes() {  # $1: phase (before|after), $2: the specs
  [ -n "$2" ] || return 0
  f=/run/peer/up.$FIRST_USER
  [ -f "$f" ] || { echo "PROBE phase=$1 result=fail reason=session_down"; return 0; }
  ifc=$(field if "$f")
  if [ "$1" = before ]; then
    for net in $PROBE_ROUTES; do ip route add "$net" dev "$ifc"; done
  fi
  for spec in $2; do
    kind=${spec%%:*}; rest=${spec#*:}; detail=""
    case "$kind" in
      ping) out=$(ping -c 1 -W 3 -I "$ifc" "$rest" 2>&1) ;;
      # busybox's static wget crashes here: a plain HTTP/1.0 GET with nc.
      http) out=$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 "${rest%:*}" "${rest##*:}" 2>&1)
            echo "$out" | head -1 | grep -q ' 200 ' ;;
      dns) out=$(nslookup "${rest#*:}" "${rest%%:*}" 2>&1) ;;
      *) out="unknown probe"; false ;;
    esac
    rc=$?
    # http: the body's last line (or why it failed).
    if [ "$kind" = http ]; then
      detail=$(echo "$out" | tail -1)
      detail=$(echo "$detail" | tr -c 'A-Za-z0-9.:_-' '_' | sed 's/_*$//')
    fi
    [ "$kind" = dns ] && { echo "$out" | grep -q '^Name:' || rc=1; detail=$(echo "$out" | sed -n 's/^Address: *//p' | tail -1); }
    if [ $rc -eq 0 ]; then r=ok; else r=fail; fi
    echo "PROBE phase=$1 kind=$kind target=$rest result=$r detail=$detail"
  done
}

summary() {
  result=PASS
  [ "$N_PASS" -eq "$SESSIONS" ] || result=FAIL
  [ "$TRANSFER_RESULT" != fail ] || result=FAIL
  if [ "$N_AFTER" != skip ] && { [ "$N_AFTER" -ne "$N_UP" ] || [ "$N_RENEG" -ne 0 ]; }; then result=FAIL; fi
  echo "SUMMARY sessions=$SESSIONS up=$N_UP ip=$N_IP dns=$N_DNS ping_ok=$N_PING passed=$N_PASS auth=$AUTH tunnel_auth=$TUNNEL_AUTH hidden=$HIDDEN transfer=$TRANSFER_RESULT setup_s=$SETUP_S xl2tpd=$MODE after_ok=$N_AFTER renegotiation_packets=$N_RENEG result=$result"
}

# Hang up like a LAC does: CDN for every call, then StopCCN as xl2tpd exits.
teardown() {
  for u in $USERS; do
    xl2tpd-control -c "/run/xl2tpd/$u.ctl" disconnect-lac "$u" > /dev/null 2>&1 &
  done
  k=0; while pidof pppd > /dev/null && [ $k -lt 30 ]; do sleep 0.1; k=$((k + 1)); done
  # shellcheck disable=SC2086
  kill $XL2TPD_PIDS 2>/dev/null
  k=0; while pidof xl2tpd > /dev/null && [ $k -lt 20 ]; do sleep 0.1; k=$((k + 1)); done
  echo "PEER-DONE uptime_s=$(uptime_s)"
}

echo "PEER-BOOT uptime_s=$(uptime_s) kernel=$(uname -r)"
setup_network
start_lacs
connect_all
wait_sessions
route_and_ping
report_sessions
show_logs
probes before "$PROBES"
pause_and_ping_again
probes after "$PROBES_AFTER"
transfers() {
  if [ "$TRANSFER_BOTH" = 1 ]; then
    TRANSFER_REVERSE=0; transfer
    if [ "$TRANSFER_RESULT" = ok ]; then TRANSFER_REVERSE=1; transfer; fi
  else
    transfer
  fi
}
TRANSFER_BOTH=0; [ "$TRANSFER_REVERSE" = both ] && TRANSFER_BOTH=1
ROUND=1
transfers
# --transfer-again: the host may change the session (its throttle) meanwhile.
if [ "${TRANSFER_AGAIN:-0}" -gt 0 ] && [ "$TRANSFER_RESULT" = ok ]; then
  echo "PEER-TRANSFERRED wait_s=$TRANSFER_AGAIN"
  sleep "$TRANSFER_AGAIN"
  ROUND=2
  transfers
fi
summary
teardown

# Sourced by contrib/test-real-client.sh and the benches/*-vs-l2tpns.sh
# scripts: a real FreeRADIUS with a private copy of Debian's configuration
# (the host's /etc is never changed), run in a network namespace.
#
#   fr_prepare DIR SECRET USERS PASSWORD REQUIRE_MA
#       DIR/raddb from /etc/freeradius/3.0, logs and detail files in
#       DIR/radlog, client 127.0.0.0/8 with SECRET, users user1..userUSERS
#       with PASSWORD, Access-Accept and Access-Reject signed with
#       Message-Authenticator. REQUIRE_MA yes|no: whether the client's
#       requests must be signed (l2tpns 2.4.1 never signs them: no).
#   fr_users PREFIX COUNT PASSWORD [REPLY]
#       print users PREFIX1..PREFIXCOUNT with PASSWORD for the users file
#       (DIR/raddb/mods-config/files/authorize); REPLY, e.g.
#       'Cisco-AVPair = "throttle=10000"', goes in every Access-Accept.
#   fr_start NS DIR [PREFIX...]
#       start it in namespace NS (PREFIX, e.g. "taskset -c 0", goes before
#       freeradius), set FR_PID, wait until it is ready (exit 1 if not).

fr_prepare() {
  local dir=$1 secret=$2 users=$3 password=$4 require_ma=$5
  command -v freeradius >/dev/null || { echo "FAIL: freeradius missing (apt-get install freeradius)" >&2; exit 1; }
  cp -a /etc/freeradius/3.0 "$dir/raddb"; mkdir -p "$dir/radlog/radacct"
  sed -i -e "s|^\s*logdir = .*|logdir = $dir/radlog|" -e "s|^\s*run_dir = .*|run_dir = $dir/radlog|" \
         -e 's|^\s*user = freerad|#user = freerad|' -e 's|^\s*group = freerad|#group = freerad|' "$dir/raddb/radiusd.conf"
  python3 - "$dir/raddb/sites-available/default" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s.replace("post-auth {\n", "post-auth {\n\tupdate reply {\n\t\tMessage-Authenticator := 0x00\n\t}\n", 1)
s = s.replace("Post-Auth-Type REJECT {\n", "Post-Auth-Type REJECT {\n\t\tupdate reply {\n\t\t\tMessage-Authenticator := 0x00\n\t\t}\n", 1)
open(p, "w").write(s)
PY
  printf 'client lns {\n\tipaddr = 127.0.0.0/8\n\tsecret = %s\n\trequire_message_authenticator = %s\n}\n' "$secret" "$require_ma" > "$dir/raddb/clients.conf"
  fr_users user "$users" "$password" > "$dir/raddb/mods-config/files/authorize"
}

fr_users() {
  local prefix=$1 count=$2 password=$3 reply=${4:-}
  for i in $(seq 1 "$count"); do
    printf '%s%s\tCleartext-Password := "%s"\n' "$prefix" "$i" "$password"
    [ -z "$reply" ] || printf '\t%s\n' "$reply"
  done
}

fr_start() {
  local ns=$1 dir=$2; shift 2
  ip netns exec "$ns" "$@" freeradius -f -d "$dir/raddb" -l stdout > "$dir/freeradius.log" 2>&1 &
  FR_PID=$!
  for _ in $(seq 1 100); do grep -q "Ready to process requests" "$dir/freeradius.log" && break; sleep 0.1; done
  grep -q "Ready to process requests" "$dir/freeradius.log" || { echo "FAIL: freeradius did not start" >&2; tail "$dir/freeradius.log" >&2; exit 1; }
}

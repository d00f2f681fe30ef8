#!/bin/bash
# Installs what the tests need on a fresh Debian 12 machine (root, Rust),
# then runs every test. The README's second command, and what .ci/run calls.
#
#   contrib/run-tests.sh              # install, then cargo test
#   L2TPNS_SKIP_PRIVILEGED=1 contrib/run-tests.sh   # skip root-only tests on purpose
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)

[ "$(id -u)" = 0 ] || { echo "run-tests: needs root (apt-get, namespaces, TUN)" >&2; exit 1; }

# Real peers and tools the tests use:
#   iproute2, iputils-ping   network namespaces, veth, pings
#   tshark                   capture decoding (malformed-packet check)
#   freeradius(-utils)       the real RADIUS server, radclient
#   qemu-system-x86 + bc binutils xz-utils gzip   the peer VM (xl2tpd + pppd)
#   iperf3, python3          traffic through sessions, small helpers
#   prometheus               promtool, to check the /metrics scrape
#   lintian, dpkg-dev, systemd   the Debian package test (lintian, dpkg-shlibdeps,
#                            systemd-analyze verify; cargo-deb's objcopy is binutils)
#   l2tpns                   Debian's /usr/sbin/nsctl (tests/nsctl.rs talks to
#                            our server with it); its daemon is not wanted
#   clang, llvm, libbpf-dev  build.rs compiles the kernel fast path's BPF
#                            programs (bpf/fastpath.c); without them it is not built
need=()
for p in iproute2 iputils-ping tshark qemu-system-x86 bc binutils xz-utils gzip \
         freeradius freeradius-utils python3 iperf3 lintian dpkg-dev systemd prometheus \
         l2tpns clang llvm libbpf-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "run-tests: installing ${need[*]}"
  apt-get update -qq
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  # No service of these packages may start on install: Debian's l2tpns
  # would take UDP 1701/1702 and send cluster heartbeats on eth0, FreeRADIUS
  # and Prometheus would hold their ports. policy-rc.d says no while apt runs.
  policy_added=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    policy_added=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [ -n "$policy_added" ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
fi
# The tests run their own FreeRADIUS (a private copy of its config in each
# test's namespace); the packaged service must not hold ports 1812/1813.
if systemctl is-active --quiet freeradius 2>/dev/null; then systemctl stop freeradius; fi
# Only promtool is wanted from the prometheus package, not its server.
if systemctl is-active --quiet prometheus 2>/dev/null; then systemctl stop prometheus; fi
# Debian's l2tpns package starts and enables its daemon, which takes UDP 1701
# and 1702 (nsctl) in the root namespace. The tests want only its nsctl
# (tests/nsctl.rs uses an ephemeral port, so this is hygiene, not a need).
if systemctl is-active --quiet l2tpns 2>/dev/null; then systemctl stop l2tpns; fi
systemctl disable --quiet l2tpns 2>/dev/null || true
if [ -x /etc/init.d/l2tpns ] && ! [ -d /run/systemd/system ]; then
  /etc/init.d/l2tpns stop >/dev/null 2>&1 || true
  update-rc.d l2tpns disable >/dev/null 2>&1 || true
fi

# The peer VM image (Debian kernel + initramfs with xl2tpd and pppd), cached
# under target/peer-vm; rebuilt only when its packages change.
bash tests/peer/build-image.sh >/dev/null
# cargo-deb for tests/package.rs, at the version contrib/build-deb.sh pins
# (a few minutes the first time, then cached in ~/.cargo/bin).
v=$(sed -n 's/^CARGO_DEB_VERSION=//p' contrib/build-deb.sh)
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $v" ]; then
  echo "run-tests: installing cargo-deb $v"
  cargo install --quiet --locked cargo-deb --version "$v"
fi
echo "run-tests: setup done after $(( $(date +%s) - t0 )) s"

cargo build --all-targets --locked
# The fuzz targets are a crate of their own (fuzz/): check that they still
# build against the library, so an API change cannot break them unseen.
(cd fuzz && cargo check --bins --locked --quiet)
echo "run-tests: build done after $(( $(date +%s) - t0 )) s"
# Two groups, so that CI stays under 20 minutes on 2 cores:
# 1. the real-client VM runs (TCG keeps one core busy), one at a time,
#    side by side with the suites that mostly wait (RADIUS, CLI, files,
#    restarts);
# 2. everything that measures traffic or time, alone.
# The second runs whatever the first did; the exit status is a failure
# if any failed.
rc=0
LIGHT="accounting_dir cli debian_files flood_limits man_pages nsctl nsctl_daemon package radius
  radius_policy reload restart session_hook startup systemd_notify"
light=(); heavy=()
for f in tests/*.rs; do
  n=$(basename "$f" .rs)
  case " $(echo $LIGHT) real_client " in
    *" $n "*) [ "$n" = real_client ] || light+=(--test "$n") ;;
    *) heavy+=(--test "$n") ;;
  esac
done
# A group run in the background, its output kept until it is waited for
# (then shown whole, not interleaved with the foreground's).
BG_PID=""; BG_LOG=""
start_bg() {
  BG_LOG=$(mktemp /tmp/run-tests-bg.XXXXXX)
  "$@" > "$BG_LOG" 2>&1 &
  BG_PID=$!
}
finish_bg() {
  wait "$BG_PID" || rc=1
  cat "$BG_LOG"; rm -f "$BG_LOG"
}
echo "run-tests: the real-client VM alongside: ${light[*]}"
start_bg cargo test --locked --no-fail-fast --test real_client -- --test-threads=1
cargo test --locked --no-fail-fast "${light[@]}" -- --test-threads=2 || rc=1
finish_bg
echo "run-tests: unit, doc and traffic suites after $(( $(date +%s) - t0 )) s"
cargo test --locked --no-fail-fast --lib --bins "${heavy[@]}" -- --test-threads=2 || rc=1
cargo test --locked --no-fail-fast --doc || rc=1
# The data-plane suites again with the kernel fast path forwarding
# (`data_path bpf`, Docs/FASTPATH.md): the same assertions must hold on
# both paths. tests/fastpath.rs and the real-client fast-path run ran
# above (they set the path themselves). snoop, garden and throttle run
# again too: a session with such a policy leaves the fast path for its
# worker and comes back when it is lifted, and their TCP and UDP checks
# talk to servers on the LNS's host, whose replies reach the programs
# with a partial checksum (down-partial-checksum).
# garden and throttle mostly wait (their rates are a few Mbit/s), so they
# run beside the light-traffic suites; the 1,000 sessions come after.
echo "run-tests: the data-plane suites on the kernel fast path"
export L2TPNS_TEST_DATA_PATH=bpf
start_bg cargo test --locked --no-fail-fast --test garden --test throttle -- --test-threads=2
cargo test --locked --no-fail-fast --test metrics --test fragmentation --test bench_traffic \
  --test capture --test snoop -- --test-threads=2 || rc=1
finish_bg
cargo test --locked --no-fail-fast --test sessions -- --test-threads=2 thousand || rc=1
unset L2TPNS_TEST_DATA_PATH
echo "run-tests: all tests done after $(( $(date +%s) - t0 )) s"
exit $rc

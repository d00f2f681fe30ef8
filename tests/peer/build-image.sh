#!/bin/bash
# build-image.sh - builds the peer VM image used by lac-vm.sh: Debian bookworm's
# kernel plus an initramfs holding the kernel's PPP/L2TP modules, xl2tpd, pppd,
# iperf3 and a static busybox, all taken from Debian packages (apt-get download
# + dpkg -x; nothing is installed on the host). What goes in: image.conf.
#
#   bash tests/peer/build-image.sh          # builds, or does nothing if up to date
#   FORCE=1 bash tests/peer/build-image.sh  # rebuild (re-using downloaded .debs)
#   KERNEL_PKG=linux-image-6.1.0-NN-amd64 ... # pin the kernel package
#
# Output in $PEER_VM_DIR (default: <repository>/target/peer-vm):
#   vmlinuz, initrd.img   the VM's kernel and initramfs
#   busybox               static busybox for the host side (packs cpio archives)
#   image.info            stamp, kernel version, module load order, package versions
#   debs/                 the downloaded packages
# Up to date = the stamp (package versions + image.conf + guest/init + this
# script) matches; then it prints nothing on stdout (progress goes to stderr).
# Needs: apt-get/apt-cache with bookworm sources, dpkg, readelf, xz, gzip.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${PEER_VM_DIR:-$ROOT/target/peer-vm}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# shellcheck source=tests/peer/image.conf
. "$HERE/image.conf"

log() { echo "build-image: $*" >&2; }
fail() { log "$*"; exit 1; }

# apt may be busy (another apt-get on the machine holds its lock): retry.
retry() {
  local i
  for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    "$@" && return 0
    log "'$*' failed; retry $i in 10 s"
    sleep 10
  done
  return 1
}

# --- which packages, which versions --------------------------------------------
kernel_package() {
  [ -n "${KERNEL_PKG:-}" ] && { echo "$KERNEL_PKG"; return; }
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }'
}
KPKG=$(kernel_package)
if [ -z "$KPKG" ]; then
  log "apt knows no linux-image-amd64: running apt-get update"
  retry apt-get update -qq >&2
  KPKG=$(kernel_package)
fi
[ -n "$KPKG" ] || fail "cannot find the kernel package (set KERNEL_PKG)"
ALL=("$KPKG" "${PACKAGES[@]}")

# "package=version" per line, the candidate apt would download
VERSIONS=$(apt-cache policy "${ALL[@]}" 2>/dev/null |
  awk '/^[^ ]/ { p = $1; sub(/:$/, "", p) } $1 == "Candidate:" { print p "=" $2 }')
for p in "${ALL[@]}"; do
  grep -q "^$p=" <<<"$VERSIONS" && ! grep -q "^$p=(none)" <<<"$VERSIONS" ||
    fail "package $p has no installable version (apt-get update? bookworm sources?)"
done
STAMP=$( { echo "$VERSIONS"; cat "$HERE/image.conf" "$HERE/guest/init" "$0"; } |
  sha256sum | cut -c1-16)

if [ "${FORCE:-0}" != 1 ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] &&
   [ -x "$OUT/busybox" ] && grep -qx "stamp=$STAMP" "$OUT/image.info" 2>/dev/null; then
  log "up to date ($OUT, stamp $STAMP)"
  exit 0
fi
T0=$SECONDS

# --- download (only what is not in debs/ at the wanted version) ----------------
mkdir -p "$OUT/debs"
deb_of() {  # $1 = package=version -> its .deb in debs/ (dpkg names ':' as %3a)
  local p=${1%%=*} v=${1#*=}
  ls "$OUT/debs/${p}_${v//:/%3a}_"*.deb 2>/dev/null | head -1
}
want=()
while read -r pv; do
  [ -n "$(deb_of "$pv")" ] || want+=("$pv")
done <<<"$VERSIONS"
if [ ${#want[@]} -gt 0 ]; then
  log "downloading ${#want[@]} packages: ${want[*]}"
  (cd "$OUT/debs" && retry apt-get download -q "${want[@]}" >&2 2> >(grep -v unsandboxed >&2))
fi
keep=" "
while read -r pv; do keep="$keep$(basename "$(deb_of "$pv")") "; done <<<"$VERSIONS"
for f in "$OUT"/debs/*.deb; do  # versions no longer wanted
  [[ "$keep" == *" ${f##*/} "* ]] || rm -f "$f"
done

# --- unpack --------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/peer-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
X=$WORK/unpacked   # every package, as dpkg -x leaves it
R=$WORK/root       # the initramfs tree
mkdir -p "$X" "$R"
while read -r pv; do
  dpkg -x "$(deb_of "$pv")" "$X"
done <<<"$VERSIONS"

# --- kernel and modules ----------------------------------------------------------
KVER=$(ls "$X/lib/modules")
[ "$(wc -w <<<"$KVER")" = 1 ] || fail "expected one kernel in $KPKG, found: $KVER"
MODDIR=$X/lib/modules/$KVER
cp "$X/boot/vmlinuz-$KVER" "$WORK/vmlinuz"

unpack_module() {  # $1 = .ko, .ko.xz, .ko.zst or .ko.gz -> stdout
  case "$1" in
    *.xz) xz -dc "$1" ;;
    *.zst) zstd -qdc "$1" ;;
    *.gz) gzip -dc "$1" ;;
    *) cat "$1" ;;
  esac
}
declare -A MODFILE=() LOADED=()
while read -r f; do
  m=${f##*/}; m=${m%%.ko*}; MODFILE[${m//-/_}]=$f
done < <(find "$MODDIR/kernel" -name '*.ko*')
LOAD_ORDER=()
add_module() {  # depth first: a module's dependencies load before it
  local m=${1//-/_} dep
  [ -z "${LOADED[$m]:-}" ] || return 0
  LOADED[$m]=1
  if [ -z "${MODFILE[$m]:-}" ]; then
    grep -qE "/${m//_/[-_]}\.ko$" "$MODDIR/modules.builtin" ||
      fail "module $m is neither in $KPKG nor built into its kernel"
    return 0  # built in: nothing to load
  fi
  for dep in $(unpack_module "${MODFILE[$m]}" | strings -n 8 |
               sed -n 's/^depends=//p' | head -1 | tr ',' ' '); do
    add_module "$dep"
  done
  LOAD_ORDER+=("$m")
}
for m in "${MODULES[@]}"; do add_module "$m"; done
mkdir -p "$R/lib/modules"
for m in "${LOAD_ORDER[@]}"; do
  unpack_module "${MODFILE[$m]}" > "$R/lib/modules/$m.ko"
done
printf '%s\n' "${LOAD_ORDER[@]}" > "$R/lib/modules/load-order"

# --- userland ----------------------------------------------------------------------
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,lib64,lib/x86_64-linux-gnu,etc/ppp,etc/xl2tpd,proc,sys,dev,tmp,run,var,root}
ln -s ../run "$R/var/run"
cp "$X/bin/busybox" "$R/bin/busybox"
for applet in $("$R/bin/busybox" --list-full); do
  [ -e "$R/$applet" ] || ln -s /bin/busybox "$R/$applet"
done

LIBDIRS=(lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu)
declare -A HAVE_LIB=()
copy_libraries_of() {  # every DT_NEEDED library, transitively, into /lib/x86_64-linux-gnu
  local lib d found
  for lib in $(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -z "${HAVE_LIB[$lib]:-}" ] || continue
    HAVE_LIB[$lib]=1
    found=""
    for d in "${LIBDIRS[@]}"; do
      [ -e "$X/$d/$lib" ] && { found=$X/$d/$lib; break; }
    done
    [ -n "$found" ] || fail "$lib (needed by ${1##*/}) is in no package of image.conf: add its package"
    cp -L "$found" "$R/lib/x86_64-linux-gnu/$lib"
    copy_libraries_of "$found"
  done
}
cp -L "$X/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" "$R/lib64/"
for pattern in "${PROGRAMS[@]}"; do
  # shellcheck disable=SC2086  # the pattern is meant to glob
  set -- $X$pattern
  [ -e "$1" ] || fail "no $pattern in the packages of image.conf"
  for f in "$@"; do
    mkdir -p "$R/$(dirname "${f#"$X"}")"
    cp -L "$f" "$R/${f#"$X"}"
    copy_libraries_of "$f"
  done
done
for pattern in "${PROGRAMS[@]}"; do  # the image's own loader must resolve everything
  for f in $R$pattern; do
    [ -x "$f" ] || continue
    ! "$R/lib64/ld-linux-x86-64.so.2" --library-path "$R/lib/x86_64-linux-gnu" --list "$f" |
      grep 'not found' >&2 || fail "unresolved libraries in ${f#"$R"}"
  done
done

echo 'root:x:0:0:root:/root:/bin/sh' > "$R/etc/passwd"
echo 'root:x:0:' > "$R/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files\n' > "$R/etc/nsswitch.conf"
echo '127.0.0.1 localhost' > "$R/etc/hosts"
install -m 755 "$HERE/guest/init" "$R/init"

# --- pack ----------------------------------------------------------------------------
cp "$R/bin/busybox" "$WORK/busybox"   # packs the archive: no cpio needed on the host
(cd "$R" && find . | LC_ALL=C sort | "$WORK/busybox" cpio -o -H newc 2>/dev/null) |
  gzip -6 > "$WORK/initrd.img"
{
  echo "stamp=$STAMP"
  echo "kernel=$KVER"
  echo "modules=${LOAD_ORDER[*]}"
  sed 's/^/package /' <<<"$VERSIONS"
  echo "built=$(date -u +%FT%TZ) seconds=$((SECONDS - T0))"
} > "$WORK/image.info"
for f in vmlinuz initrd.img busybox image.info; do  # image.info last: it holds the stamp
  mv "$WORK/$f" "$OUT/$f"
done
log "built in $((SECONDS - T0)) s: kernel $KVER, initrd $(du -h "$OUT/initrd.img" | cut -f1), modules ${LOAD_ORDER[*]}"

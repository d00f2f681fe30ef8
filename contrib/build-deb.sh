#!/bin/bash
# Builds the Debian package l2tpns-rs with cargo-deb (installing the pinned
# cargo-deb first when it is missing) and prints the .deb's path last.
# The package is described in Cargo.toml, [package.metadata.deb].
#
#   contrib/build-deb.sh              # release build -> target/debian/*.deb
#   contrib/build-deb.sh --no-build --profile dev -o DIR
#                                     # package binaries already built (tests/package.rs)
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_DEB_VERSION=3.8.0

if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  echo "build-deb: installing cargo-deb $CARGO_DEB_VERSION" >&2
  cargo install --quiet --locked cargo-deb --version "$CARGO_DEB_VERSION" >&2
fi
# cargo-deb prints the paths of what it wrote (.deb, -dbgsym.ddeb) on stdout.
out=$(cargo deb --locked "$@")
deb=$(grep '\.deb$' <<<"$out" | tail -n 1)
[ -f "$deb" ] || { echo "build-deb: no .deb in cargo-deb's output: $out" >&2; exit 1; }
echo "$deb"

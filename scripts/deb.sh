#!/usr/bin/env bash
# Build the Debian package (cargo-deb, installed from crates.io when missing), install it
# on this machine with dpkg -i, check what it installed, and purge it again.
#
#   scripts/deb.sh            # build, install, check, purge
#   KEEP=1 scripts/deb.sh     # leave it installed
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
fail() { echo "deb: $*" >&2; exit 1; }

command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --quiet
cargo build --release --locked --quiet -p mypay-gateway -p mypay-acquirer
deb="$(cargo deb -p mypay-gateway --no-build --locked --quiet 2>/dev/null | tail -n1)"
[ -f "$deb" ] || deb="$(ls -t target/debian/mypay-gateway_*.deb | head -n1)"
echo "package: $deb"

DEBIAN_FRONTEND=noninteractive as_root dpkg -i "$deb" >/dev/null
trap '[ -n "${KEEP:-}" ] || as_root dpkg --purge mypay-gateway >/dev/null' EXIT

version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
/usr/bin/mypay-gateway --version | grep -qx "mypay-gateway $version" || fail "mypay-gateway --version"
/usr/bin/mypay-acquirer --version | grep -qx "mypay-acquirer $version" || fail "mypay-acquirer --version"

unit=""
for dir in /lib/systemd/system /usr/lib/systemd/system; do
    [ -f "$dir/mypay-gateway.service" ] && unit="$dir/mypay-gateway.service"
done
[ -n "$unit" ] || fail "no systemd unit installed"
for line in 'User=mypay' 'Group=mypay' 'Restart=on-failure' \
            'EnvironmentFile=/etc/mypay/mypay-gateway.env' 'StateDirectory=mypay' \
            'ExecStart=/usr/bin/mypay-gateway serve' 'ExecReload=/bin/kill -HUP $MAINPID'; do
    grep -qxF "$line" "$unit" || fail "the unit lacks $line"
done
if command -v systemd-analyze >/dev/null; then
    systemd-analyze verify "$unit" 2>&1 | grep -v -e 'Failed to' -e '^$' | grep . && fail "systemd-analyze verify: the unit has problems" || true
fi

getent passwd mypay >/dev/null || fail "no mypay user"
[ "$(stat -c %U /var/lib/mypay)" = mypay ] || fail "/var/lib/mypay is not mypay's"
[ "$(stat -c %a /etc/mypay/mypay-gateway.env)" = 640 ] || fail "the settings file is not 0640"
[ -f /etc/mypay/upstreams.toml.sample ] || fail "no sample upstreams file"
[ -f /usr/share/doc/mypay-gateway/upstream-protocol.md ] || fail "no protocol document"

# The sample upstreams file is one the gateway reads (it names no tool it does not know).
tmp="$(mktemp -d)"; trap '[ -n "${KEEP:-}" ] || as_root dpkg --purge mypay-gateway >/dev/null; rm -rf "$tmp"' EXIT
/usr/bin/mypay-gateway --database "$tmp/db.sqlite" --mode production \
    --upstreams /etc/mypay/upstreams.toml.sample unresolved >/dev/null \
    || fail "the sample upstreams file does not read"
echo "deb: installed and checked ($unit, mypay-gateway and mypay-acquirer $version)"

#!/usr/bin/env bash
# Run every test of mypay-link, on both storage backends. On a fresh Debian machine it
# first installs what the tests need: PHP with curl, Node.js, Chromium and CJK fonts, zbar-tools
# (a QR reader for the invoice proof), openssl (TLS handshakes by protocol version),
# PostgreSQL (Debian packages), pycryptodome and requests (PyPI) for the document's
# sample clients, aiosmtpd (PyPI) as a real SMTP server, schemathesis (PyPI) against the
# admin API's OpenAPI document, playwright-core (npm) for the
# browser, cargo-deb (crates.io, by scripts/deb.sh) for the Debian package, cargo-fuzz
# (crates.io, by scripts/fuzz.sh) for the fuzz smoke run. PostgreSQL runs as a throw-away
# cluster on loopback (scripts/pg-cluster.sh), removed when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."

SAMPLES=../shared/sample-clients
[ -f "$SAMPLES/run.sh" ] || { echo "the document's sample clients are expected at $SAMPLES" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

packages=()
command -v php >/dev/null || packages+=(php-cli)
{ command -v php >/dev/null && php -m 2>/dev/null | grep -qx curl; } || packages+=(php-curl)
command -v node >/dev/null || packages+=(nodejs npm)
command -v chromium >/dev/null || packages+=(chromium)
command -v zbarimg >/dev/null || packages+=(zbar-tools)
command -v openssl >/dev/null || packages+=(openssl)
fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || packages+=(fonts-noto-cjk)
{ ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v psql >/dev/null; } || packages+=(postgresql)
if [ ${#packages[@]} -gt 0 ]; then
  echo "installing Debian packages: ${packages[*]}"
  # The tests start their own cluster; the package's default one is not wanted.
  as_root mkdir -p /etc/postgresql-common
  [ -f /etc/postgresql-common/createcluster.conf ] \
    || echo 'create_main_cluster = false' | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${packages[@]}" >/dev/null
fi
python3 -c 'import Crypto, requests' 2>/dev/null || python3 -m pip install -q pycryptodome requests
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install -q aiosmtpd
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install -q schemathesis
(cd tests/browser && { npm ci --no-audit --no-fund --silent || npm install --no-audit --no-fund --silent; })

# The code's form first: it fails fast. The declared rust-version is the toolchain this
# builds with (rustc 1.95 here); the docs' links must resolve.
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

# Unit tests, the black-box API tests (they run the sample clients too), the SDK: on
# SQLite, then the black-box tests again on PostgreSQL.
# The first pass is SQLite's, whatever the caller's environment names.
unset MYPAY_TEST_POSTGRES MYPAY_TEST_PGDATA MYPAY_TEST_PGBIN
cargo test --workspace --locked

eval "$(scripts/pg-cluster.sh start)"
trap 'scripts/pg-cluster.sh stop "$MYPAY_TEST_PGDATA"' EXIT
echo "PostgreSQL test cluster at $MYPAY_TEST_POSTGRES"
# --workspace (only the api test runs): the dependencies keep the features the first pass
# built them with; `-p mypay-gateway` alone would resolve fewer and build ~45 crates again.
cargo test --workspace --locked --test api
PG_SERVER=$MYPAY_TEST_POSTGRES
unset MYPAY_TEST_POSTGRES

# The Debian package, installed on this machine with dpkg -i and checked.
scripts/deb.sh

# The PayPage in a real browser, against the binary the tests above built. Every binary is
# built with the workspace's features (the crash harness below is target/debug/xtask), so
# nothing the tests built is built again.
cargo build --workspace --bins --locked --quiet
(cd tests/browser && node --test)

# The crash harness (`cargo xtask crash`, against the release build scripts/deb.sh made): 10
# SIGKILLs under mixed traffic on each backend, the ledger checked after every restart and
# at the end, with a new seed each run (printed, with the command that replays it). Then
# each kind of fault the checker looks for is made on purpose, and it must find it.
target/debug/xtask crash --backend sqlite --kills 10
MYPAY_TEST_POSTGRES=$PG_SERVER target/debug/xtask crash --backend postgres --kills 10
for fault in lost-order double-pay over-refund clock-back redelivery lost-notice; do
  if out=$(target/debug/xtask crash --backend sqlite --kills 1 --seed 7 --tamper "$fault" 2>&1); then
    echo "$out" >&2; echo "the ledger checker missed a fault made on purpose: $fault" >&2; exit 1
  fi
  echo "$out" | grep -q 'VIOLATION' || { echo "$out" >&2; echo "tamper $fault: no violation named" >&2; exit 1; }
done
echo "the ledger checker found each of the 6 faults made on purpose"
# The database going away under load, briefly (the README's runs are longer): PostgreSQL
# stopped and started, then every connection cut; SQLite's data directory (a tmpfs)
# filled up and freed.
target/debug/xtask db-away --backend postgres --outage-secs 6
target/debug/xtask db-away --backend sqlite --outage-secs 6

# Every fuzz target for 10 s (coverage-guided, the nightly toolchain; cargo-fuzz installed
# from crates.io when missing). The longer runs are README commands. Built at opt-level 1
# for the smoke run: about 2 minutes less to build on 2 cores, two thirds of the executions
# per second, which 10 s do not need.
CARGO_PROFILE_RELEASE_OPT_LEVEL=1 scripts/fuzz.sh 10

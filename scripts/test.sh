#!/usr/bin/env bash
# Run every test of mypay-link. On a fresh Debian machine it first installs what the tests
# need: PHP with curl, Node.js, Chromium and CJK fonts (Debian packages), pycryptodome and
# requests (PyPI) for the document's sample clients, playwright-core (npm) for the browser.
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
fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || packages+=(fonts-noto-cjk)
if [ ${#packages[@]} -gt 0 ]; then
  echo "installing Debian packages: ${packages[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${packages[@]}" >/dev/null
fi
python3 -c 'import Crypto, requests' 2>/dev/null || python3 -m pip install -q pycryptodome requests
(cd tests/browser && { npm ci --no-audit --no-fund --silent || npm install --no-audit --no-fund --silent; })

# Unit tests, the black-box API tests (they run the sample clients too), the SDK.
cargo test --workspace --locked

# The PayPage in a real browser, against the binary the tests above built.
cargo build -p mypay-gateway --locked --quiet
(cd tests/browser && node --test)

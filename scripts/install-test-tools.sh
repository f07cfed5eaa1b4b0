#!/usr/bin/env bash
# The programs the test suite drives, installed where missing (`make test` runs this):
# Debian's Chromium for the browser tests, nginx for the deployment test, Node and npm for
# the TypeScript check of the OpenAPI document. With apt-get (as root, or through sudo)
# they are installed; without it the script names them and fails, because the tests
# that need them fail without them.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || need+=(nginx)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v apt-get >/dev/null 2>&1 || { [ -n "$sudo" ] && ! command -v sudo >/dev/null 2>&1; }; then
    echo "The tests need these Debian packages, and apt-get (as root or through sudo) is" >&2
    echo "not available to install them: ${need[*]}" >&2
    exit 1
fi
echo "installing for the tests: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"

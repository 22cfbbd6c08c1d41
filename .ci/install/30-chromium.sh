#!/usr/bin/env bash
# A real browser for the status page tests (test/appliance/ops/web/): Debian's chromium, driven by
# playwright-core with executablePath /usr/bin/chromium (no browser download from anywhere else).
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
echo "ci: installing from Debian: chromium"
. "$(dirname "$0")/../lib/apt.sh"
apt_install chromium fonts-dejavu-core

#!/usr/bin/env bash
# zstd: the VM upgrade file is a zstd-compressed root slot. test/appliance/image/slots.test.ts (npm
# test) compresses a stand-in with it, and the image build and its upgrade test need it as well.
set -euo pipefail
command -v zstd >/dev/null && exit 0
echo "ci: installing from Debian for the upgrade tests: zstd"
. "$(dirname "$0")/../lib/apt.sh"
apt_install zstd

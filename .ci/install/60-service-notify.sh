#!/usr/bin/env bash
# The service-notify test (test/appliance/ops/service-notify.test.ts) runs systemd's own
# `systemd-notify` against a unix datagram socket bound by a perl one-liner (perl-base is Essential).
set -euo pipefail
need=()
[ -x /usr/bin/systemd-notify ] || need+=(systemd)
[ -x /usr/bin/perl ] || need+=(perl-base)
[ ${#need[@]} -eq 0 ] && exit 0
echo "ci: installing from Debian: ${need[*]}"
. "$(dirname "$0")/../lib/apt.sh"
apt_install "${need[@]}"

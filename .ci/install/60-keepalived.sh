#!/usr/bin/env bash
# keepalived (Debian's package, the one the VM image ships) for the VRRP pair test
# (test/appliance/ha/vrrp-pair.test.ts): two keepalived instances in network namespaces move a
# virtual IP between two appliances. Only the binary is used; the packaged service is never started
# here (the test runs keepalived in the foreground inside its namespaces).
set -euo pipefail
command -v keepalived >/dev/null && exit 0
echo "ci: installing from Debian: keepalived"
. "$(dirname "$0")/../lib/apt.sh"
apt_install keepalived

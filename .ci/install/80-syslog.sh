#!/usr/bin/env bash
# A real syslog receiver for the remote-syslog test (test/appliance/ops/syslog-rsyslog.test.ts):
# Debian's rsyslogd with imtcp (octet-counted RFC 6587 framing, RFC 5424 parsing) and the GnuTLS
# network stream driver for RFC 5425. The test runs its own rsyslogd (-n, own config and pid file) on
# loopback; the package's service, if the install started one, is stopped.
set -euo pipefail
need=()
[ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1 || need+=(rsyslog-gnutls)
[ ${#need[@]} -eq 0 ] && exit 0
echo "ci: installing from Debian: ${need[*]}"
. "$(dirname "$0")/../lib/apt.sh"
apt_install "${need[@]}"
if [ -f /run/rsyslogd.pid ]; then kill "$(cat /run/rsyslogd.pid)" 2>/dev/null || true; fi

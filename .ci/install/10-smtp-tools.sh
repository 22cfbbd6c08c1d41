#!/usr/bin/env bash
# Real SMTP clients for the tests: Debian's swaks (with Perl's TLS modules, which the client-certificate
# tests use) and postfix's smtp-source. Perl TLS modules come only with swaks when swaks itself is missing.
set -euo pipefail
need=()
command -v swaks >/dev/null || need+=(swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl)
[ -x /usr/sbin/smtp-source ] || need+=(postfix)
[ ${#need[@]} -eq 0 ] && exit 0
echo "ci: installing from Debian: ${need[*]}"
# Only smtp-source is used from postfix: no main.cf, and its daemon is stopped if it started.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
. "$(dirname "$0")/../lib/apt.sh"
apt_install "${need[@]}"
postfix stop >/dev/null 2>&1 || true

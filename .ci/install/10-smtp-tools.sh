#!/usr/bin/env bash
# Real SMTP clients for the tests: Debian's swaks (with Perl's TLS modules, which the client-certificate
# tests use) and postfix's smtp-source. The Perl modules are installed whenever swaks lacks the feature
# (`swaks --support` names what is missing), not only when swaks itself is: test/helpers/tools.ts checks
# the same features and fails the test in CI without them.
set -euo pipefail
need=()
if ! command -v swaks >/dev/null; then
  need+=(swaks libnet-ssleay-perl libio-socket-ssl-perl libauthen-sasl-perl)
else
  support=$(swaks --support 2>&1 || true)
  grep -q '^=== TLS supported' <<<"$support" || need+=(libnet-ssleay-perl libio-socket-ssl-perl)
  grep -q '^=== Basic AUTH supported' <<<"$support" || need+=(libauthen-sasl-perl)
fi
[ -x /usr/sbin/smtp-source ] || need+=(postfix)
[ ${#need[@]} -eq 0 ] && exit 0
echo "ci: installing from Debian: ${need[*]}"
# Only smtp-source is used from postfix: no main.cf, and its daemon is stopped if it started.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections 2>/dev/null || true
. "$(dirname "$0")/../lib/apt.sh"
apt_install "${need[@]}"
postfix stop >/dev/null 2>&1 || true

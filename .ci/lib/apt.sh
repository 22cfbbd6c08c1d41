# Sourced by .ci/install/*.sh: apt_install PKG... installs from Debian, updating the lists once per CI run.
# A failure prints the tail of apt's log and returns non-zero (CI fails; it never goes on without a tool).
apt_install() {
  local log=/tmp/ci-apt-$$.log
  if [ ! -f /tmp/ci-apt-updated ] || [ -n "$(find /tmp/ci-apt-updated -mmin +60 2>/dev/null)" ]; then
    apt-get update -qq >"$log" 2>&1 || { echo "ci: apt-get update failed"; tail -20 "$log"; return 1; }
    touch /tmp/ci-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$log" 2>&1 \
    || { echo "ci: apt-get install $* failed"; tail -20 "$log"; return 1; }
}

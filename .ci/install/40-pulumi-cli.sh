#!/usr/bin/env bash
# The real Pulumi CLI for the `relaykit` (fleet/) end-to-end run, built from Go modules: the npm
# `pulumi` package only downloads a binary, which these machines cannot reach, but the Go module proxy
# can. .ci/tools/pulumi/go.mod pins github.com/pulumi/pulumi/pkg/v3 and sdk/v3 at one version; the
# binary is cached under $RELAYKIT_CI_CACHE (default /var/cache/relaykit-ci) keyed by that version and
# linked to /usr/local/bin/pulumi. Only the CLI is built: the fleet commands run the tenant program
# stand-in inline (Automation API), which needs no pulumi-language-nodejs (that host is not published
# as a module version on the proxy).
#
# Building takes a long time on 2 cores (thousands of packages), so CI does not depend on it: with no
# cached binary the build runs only when RELAYKIT_CI_BUILD_PULUMI=1, and the fake-engine tests cover
# every command either way (README "MSP onboarding").
# The version stamp (-X …version.Version) matters: without it `pulumi version` is empty and the
# Automation API refuses to refresh ("Failed to get Pulumi version").
set -euo pipefail
here=$(cd "$(dirname "$0")/../tools/pulumi" && pwd)
version=$(grep -oE 'github.com/pulumi/pulumi/pkg/v3 v[0-9.]+' "$here/go.mod" | head -1 | cut -d' ' -f2)
cache=${RELAYKIT_CI_CACHE:-/var/cache/relaykit-ci}/pulumi-$version
if [ ! -x "$cache/pulumi" ]; then
  if [ "${RELAYKIT_CI_BUILD_PULUMI:-0}" != 1 ]; then
    echo "ci: no cached pulumi $version in $cache (set RELAYKIT_CI_BUILD_PULUMI=1 to build it; fleet tests use the fake engine)"
    exit 0
  fi
  command -v go >/dev/null || { echo "ci: go is needed to build pulumi $version"; exit 1; }
  echo "ci: building pulumi $version from Go modules into $cache (log: /tmp/ci-pulumi-build.log)"
  work=$(mktemp -d)
  cp "$here/go.mod" "$here/go.sum" "$here/tools.go" "$work/"
  mkdir -p "$cache"
  if ! (cd "$work" && GOFLAGS=-mod=mod go build \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
    -o "$cache/pulumi.tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) \
    >/tmp/ci-pulumi-build.log 2>&1; then
    echo "ci: building pulumi $version failed"; tail -20 /tmp/ci-pulumi-build.log; exit 1
  fi
  mv "$cache/pulumi.tmp" "$cache/pulumi"
  rm -rf "$work"
fi
ln -sf "$cache/pulumi" /usr/local/bin/pulumi
echo "ci: pulumi $("$cache/pulumi" version 2>/dev/null || echo "$version") at /usr/local/bin/pulumi"

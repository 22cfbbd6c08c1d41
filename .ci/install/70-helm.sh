#!/usr/bin/env bash
# helm for the chart tests (test/deploy/helm-chart.test.ts: `helm lint`, `helm template`), built from
# Go modules: the helm release binaries are downloads these machines cannot reach, the Go module proxy
# is. `go install helm.sh/helm/v4/cmd/helm@VERSION` builds with helm's own go.mod/go.sum (checked
# against the checksum database), so the dependency set is the release's. The version is stamped the
# way helm's Makefile does (-X …/internal/version.version), so `helm version` names it.
# The binary is cached under $RELAYKIT_CI_CACHE (default /var/cache/relaykit-ci) keyed by version and
# linked to /usr/local/bin/helm, like .ci/install/40-pulumi-cli.sh does with pulumi. A build takes
# about 6 minutes on 2 loaded cores (most of it downloads and compiling client-go), so unlike pulumi
# it runs in CI by default: without helm the chart tests fail under CI=1.
set -euo pipefail
version=v4.3.2 # the newest helm.sh/helm/v4 the module proxy serves here (client-go v0.37.2: Kubernetes 1.37)
cache=${RELAYKIT_CI_CACHE:-/var/cache/relaykit-ci}/helm-$version
if [ ! -x "$cache/helm" ]; then
  command -v go >/dev/null || { echo "ci: go is needed to build helm $version"; exit 1; }
  echo "ci: building helm $version from Go modules into $cache (log: /tmp/ci-helm-build.log)"
  mkdir -p "$cache"
  work=$(mktemp -d)
  if ! (cd "$work" && GOBIN="$work" CGO_ENABLED=0 GOFLAGS=-mod=mod go install \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$version" \
    "helm.sh/helm/v4/cmd/helm@$version") >/tmp/ci-helm-build.log 2>&1; then
    echo "ci: building helm $version failed"; tail -20 /tmp/ci-helm-build.log; exit 1
  fi
  mv "$work/helm" "$cache/helm"
  rm -rf "$work"
fi
ln -sf "$cache/helm" /usr/local/bin/helm
echo "ci: $("$cache/helm" version --short) at /usr/local/bin/helm"

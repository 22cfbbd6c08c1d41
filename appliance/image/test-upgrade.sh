# The VM upgrade test (sourced by test.sh; uses its record/check/wait_banner/send_mail/make_bundle).
# One qemu (BIOS, the qcow2 image) through four boots, driven only the way an MSP can: SMTP, the
# hypervisor's CD drive (qemu monitor `change`) and the console (serial log):
#   boot 1, v1 in slot a: three messages queued while the smarthost (an SMTP sink on the host,
#     reached as 10.0.2.2) is down; a damaged upgrade file is refused;
#   a broken v2 (its relay cannot start) is written into slot b; boot 2 tries it, /readyz never
#     answers, the VM boots back: boot 3 is slot a again with the three messages still queued, and
#     the broken image, still attached, is not tried again;
#   a good v2 (another version string) goes into slot b; boot 4 tries it, the sink comes up, the
#     slot becomes ready and is kept, and the sink receives each of the three messages exactly once.
# v2 is v1's root file system with another /etc/relaykit-release (and, broken, a drop-in that makes
# relaykit.service fail), edited with debugfs: no second image build.

UPGRADE_READY_BROKEN=60
UPGRADE_WAIT=900

# serial_size <log>: where the log ends now (a later wait_serial looks only after it).
serial_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
# wait_serial <log> <offset> <extended regexp> <timeout-s> [qemu pid]: prints the first matching line.
wait_serial() {
  local deadline=$(($(date +%s) + $4)) line
  while [ "$(date +%s)" -lt "$deadline" ]; do
    line=$(tail -c +"$(($2 + 1))" "$1" 2>/dev/null | tr -d '\r' | grep -a -E -m1 -- "$3") && { echo "$line"; return 0; }
    if [ -n "${5:-}" ] && ! kill -0 "$5" 2>/dev/null; then echo "qemu exited"; return 1; fi
    sleep 2
  done
  echo "no console line matching /$3/ within $4 s; console tail: $(tail -c 700 "$1" | tr -d '\r' | tr '\n' '|')"
  return 1
}
monitor() { # monitor <socket> <HMP command>
  node -e 'const c = require("net").connect(process.argv[1], () => c.end(process.argv[2] + "\n")); c.on("error", (e) => { console.error(e.message); process.exit(1); }); c.resume()' "$1" "$2"
}
insert_medium() { # insert_medium <socket> <iso>: as an admin swaps the ISO: eject what is there, insert
  monitor "$1" "eject -f upgrade"
  sleep 2
  monitor "$1" "change upgrade $2 raw"
}

# derive_root <out.img.zst> <version> [broken]: v1's root file system, another release.
derive_root() {
  local out=$1 img=$UPG/derive.img
  zstd -q -d -c "$OUT/relaykit-appliance-$VERSION-root.img.zst" >"$img"
  printf 'RELAYKIT_VERSION=%s\nRELAYKIT_REVISION=upgrade-test\n' "$2" >"$UPG/release"
  local cmds=$UPG/debugfs.cmds
  printf 'rm /etc/relaykit-release\nwrite %s /etc/relaykit-release\n' "$UPG/release" >"$cmds"
  if [ "${3:-}" = broken ]; then
    printf '[Service]\nExecStart=\nExecStart=/bin/false\n' >"$UPG/broken.conf"
    printf 'mkdir /etc/systemd/system/relaykit.service.d\nwrite %s /etc/systemd/system/relaykit.service.d/broken.conf\n' "$UPG/broken.conf" >>"$cmds"
  fi
  debugfs -w -f "$cmds" "$img" >/dev/null 2>&1
  debugfs -R 'cat /etc/relaykit-release' "$img" 2>/dev/null | grep -q "RELAYKIT_VERSION=$2" || { echo "debugfs did not write the release"; return 1; }
  zstd -q -f -T0 -3 "$img" -o "$out"
  rm -f "$img"
}
# make_medium <iso> <image.zst> <ready-timeout> [garble]: an RKUPGRADE volume as an MSP makes it.
make_medium() {
  local dir=$UPG/medium
  rm -rf "$dir" && mkdir -p "$dir"
  cp "$2" "$dir/"
  (cd "$dir" && sha256sum -- "$(basename "$2")" >SHA256SUMS)
  printf 'ready_timeout=%s\n' "$3" >"$dir/relaykit-upgrade.conf"
  # Damaged in transfer: one byte changed after the sums were made.
  if [ "${4:-}" = garble ]; then printf 'X' | dd of="$dir/$(basename "$2")" bs=1 seek=4096 conv=notrunc status=none; fi
  genisoimage -quiet -output "$1" -volid RKUPGRADE -joliet -rock "$dir" 2>/dev/null
  rm -rf "$dir"
}

# upgrade_seed <sink-port>: the bundle routes all mail to the smarthost on the host (STARTTLS,
# verified against the sink's own CA, which the bundle carries), retrying every 10 s.
upgrade_seed() {
  local dir=$UPG/seed
  rm -rf "$dir" && mkdir -p "$dir/iso"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=sink.relaykit.test" \
    -addext "subjectAltName=DNS:sink.relaykit.test" -keyout "$UPG/sink-key.pem" -out "$UPG/sink-cert.pem" 2>/dev/null
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
    fs.writeFileSync(f, JSON.stringify(b, null, 2));' "$dir/relaykit-bundle.json" "$UPG/sink-cert.pem"
  cp "$dir/relaykit-bundle.json" "$dir/iso/"
  printf 'instance-id: relaykit-upgrade-test\nlocal-hostname: relaykit\n' >"$dir/iso/meta-data"
  printf '#cloud-config\n{}\n' >"$dir/iso/user-data"
  genisoimage -quiet -output "$UPG/seed.iso" -volid cidata -joliet -rock "$dir/iso" 2>/dev/null
}

# sink_subjects: the X-Relaykit-Test header of every message the sink received, one a line.
sink_subjects() { grep -ah '^X-Relaykit-Test: ' "$UPG"/sink/*.eml 2>/dev/null | tr -d '\r' | sed 's/^X-Relaykit-Test: //' | sort; }

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
sink_got_each_once() { # sink_got_each_once <subject>...: waits up to 10 min for the sink
  local got want
  for _ in $(seq 300); do [ "$(sink_subjects | wc -l)" -ge $# ] && break; sleep 2; done
  sleep 5
  got=$(sink_subjects)
  want=$(printf '%s\n' "$@" | sort)
  [ "$got" = "$want" ] || { echo "sink got: [$(tr '\n' ' ' <<<"$got")] want: [$(tr '\n' ' ' <<<"$want")]"; return 1; }
  echo "$# of $# delivered by v2, none twice"
}
esp_history_is() { # esp_history_is <overlay> <expected "event slot version;..." list>
  local raw=$UPG/disk.raw h e
  qemu-img convert -O raw "$1" "$raw" && partition_image "$raw" ESP "$raw.esp" || return 1
  h=$(MTOOLS_SKIP_CHECK=1 mtype -i "$raw.esp" ::/relaykit/history)
  rm -f "$raw" "$raw.esp"
  e=$(printf '%s\n' "$h" | awk '{ print $2, $3, $4 }' | tr '\n' ';')
  [ "$e" = "$2" ] || { echo "history: $(tr '\n' '|' <<<"$h")"; return 1; }
  echo "$e"
}

UPG_QPID=
UPG_SINKPID=
upgrade_test() {
  upgrade_run
  # Under set -e a group after the last || that fails ends the whole script: the sink killed here
  # waits with status 143 (and qemu may already be gone), which cut the run before its results.
  [ -z "$UPG_QPID" ] || { kill "$UPG_QPID" 2>/dev/null || true; wait "$UPG_QPID" 2>/dev/null || true; }
  [ -z "$UPG_SINKPID" ] || { kill "$UPG_SINKPID" 2>/dev/null || true; wait "$UPG_SINKPID" 2>/dev/null || true; }
  return 0
}

upgrade_run() {
  UPG=$T/upgrade
  rm -rf "$UPG" && mkdir -p "$UPG/sink"
  local v2=$VERSION-upgrade-test broken=$VERSION-broken-test
  if ! check "upgrade: the build ships the upgrade file, listed in SHA256SUMS" bash -c '
      cd "$1" && grep -q " relaykit-appliance-$2-root.img.zst\$" SHA256SUMS && sha256sum --quiet -c --ignore-missing SHA256SUMS \
        && echo "relaykit-appliance-$2-root.img.zst: $(($(stat -c %s "relaykit-appliance-$2-root.img.zst") / 1000000)) MB, checksum ok"' _ "$OUT" "$VERSION"; then
    return
  fi
  derive_root "$UPG/relaykit-appliance-$v2-root.img.zst" "$v2" || { record "upgrade: v2 images derived from v1" fail; return; }
  derive_root "$UPG/relaykit-appliance-$broken-root.img.zst" "$broken" broken || { record "upgrade: v2 images derived from v1" fail; return; }
  make_medium "$UPG/garbled.iso" "$UPG/relaykit-appliance-$v2-root.img.zst" 600 garble
  make_medium "$UPG/broken.iso" "$UPG/relaykit-appliance-$broken-root.img.zst" "$UPGRADE_READY_BROKEN"
  make_medium "$UPG/v2.iso" "$UPG/relaykit-appliance-$v2-root.img.zst" 600
  local smtp sinkport mon=$UPG/qemu.mon serial=$UPG/serial.log overlay=$UPG/overlay.qcow2
  smtp=$(free_port)
  sinkport=$(free_port)
  upgrade_seed "$sinkport"
  qemu-img create -q -f qcow2 -b "$DISK.qcow2" -F qcow2 "$overlay"
  # The upgrade CD drive starts empty; the test inserts media as a hypervisor admin would.
  qemu-system-x86_64 -machine pc,accel=tcg -m 1024 -smp 2 -cpu max -display none -monitor "unix:$mon,server,nowait" \
    -serial "file:$serial" -drive "file=$overlay,if=virtio,format=qcow2" \
    -drive "file=$UPG/seed.iso,media=cdrom,readonly=on" -drive if=ide,index=2,media=cdrom,id=upgrade \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$smtp-:25" -device virtio-net-pci,netdev=n0 >"$UPG/qemu.log" 2>&1 &
  local qpid=$! off t
  UPG_QPID=$qpid
  if ! check "upgrade: v1 boots from slot a" wait_serial "$serial" 0 'relaykit-upgrade: running slot a \(relaykit '"$VERSION"'\)' "$UPGRADE_WAIT" "$qpid"; then return; fi
  wait_banner "$smtp" "$UPGRADE_WAIT" "$qpid" >/dev/null || { record "upgrade: v1 greets on port 25" fail "no banner"; return; }
  local i subjects=()
  for i in 1 2 3; do subjects+=("upgrade-$i-$(date +%s%N)"); done
  check "upgrade: three messages accepted and queued while the smarthost is down" queue_three "$smtp" "$serial" "${subjects[@]}"

  off=$(serial_size "$serial")
  insert_medium "$mon" "$UPG/garbled.iso"
  check "upgrade: a damaged upgrade file is refused with a clear message, nothing written" \
    refused_untouched "$serial" "$off"

  off=$(serial_size "$serial")
  t=$(now)
  insert_medium "$mon" "$UPG/broken.iso"
  check "upgrade: the broken v2 is written into slot b and tried once" \
    wait_serial "$serial" "$off" "relaykit: trial boot of slot b" "$UPGRADE_WAIT" "$qpid"
  check "upgrade: the broken v2 is not ready within its limit and the VM boots back" \
    wait_serial "$serial" "$off" "slot b \\(relaykit $broken\\) not ready within $UPGRADE_READY_BROKEN s.*booting back into slot a" "$UPGRADE_WAIT" "$qpid"
  off=$(serial_size "$serial")
  if check "upgrade: after the rollback slot a (v1) runs again" wait_serial "$serial" "$off" \
    "relaykit-upgrade: running slot a \\(relaykit $VERSION\\)" "$UPGRADE_WAIT" "$qpid"; then
    figure upgrade_rollback_seconds "$(elapsed "$t")"
  fi
  check "upgrade: the three messages are still queued after the rollback" \
    wait_serial "$serial" "$off" "delivered 0, queued 3" "$UPGRADE_WAIT" "$qpid"
  check "upgrade: the rolled-back image, still attached, is not tried again" \
    wait_serial "$serial" "$off" "relaykit-appliance-$broken-root.img.zst was already used" 300 "$qpid"

  off=$(serial_size "$serial")
  t=$(now)
  insert_medium "$mon" "$UPG/v2.iso"
  if ! check "upgrade: v2 written into slot b, trial boot" \
    wait_serial "$serial" "$off" "relaykit: trial boot of slot b" "$UPGRADE_WAIT" "$qpid"; then return; fi
  # Only now the smarthost comes up: v1 is gone, so what gets delivered is v2's doing.
  "$REPO/node_modules/.bin/node" "$REPO/test/helpers/sim/smtp-sink-main.ts" "$sinkport" "$UPG/sink" "$UPG/sink-key.pem" \
    "$UPG/sink-cert.pem" >"$UPG/sink.log" 2>&1 &
  UPG_SINKPID=$!
  if check "upgrade: v2 becomes ready within its limit and is kept" wait_serial "$serial" "$off" \
    "slot b \\(relaykit $v2\\) ready after [0-9]+ s: it is now the default" "$UPGRADE_WAIT" "$qpid"; then
    figure upgrade_seconds "$(elapsed "$t")"
  fi
  check "upgrade: after the upgrade the sink got each queued message exactly once" sink_got_each_once "${subjects[@]}"
  node -e 'const c = require("net").connect(process.argv[1], () => c.end("system_powerdown\n")); c.on("error", () => {}); c.resume()' "$mon" || true
  for _ in $(seq 120); do kill -0 "$qpid" 2>/dev/null || break; sleep 1; done
  check "upgrade: the ESP history shows built a, broken b rolled back, v2 b committed" esp_history_is "$overlay" \
    "built slot=a version=$VERSION;written slot=b version=$broken;rolled-back slot=b version=$broken;written slot=b version=$v2;committed slot=b version=$v2;"
}

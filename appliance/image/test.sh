#!/usr/bin/env bash
# Boot-tests the appliance images (npm run image:test): builds them (build.sh), then
#   container: runs it with podman (read-only root, no capabilities, data volume, slirp4netns with
#     loopback-only published ports), sends mail with swaks, finds the .eml on the volume and the
#     delivered counter in /metrics, runs the HEALTHCHECK, stops it with SIGTERM and expects a clean exit;
#   VM: boots the disk under qemu (TCG) with BIOS and with UEFI, seeded with a bundle on a cidata
#     CD-ROM, waits for the SMTP banner on a forwarded loopback port, sends mail, checks /metrics, powers
#     the VM off via ACPI and reads the captured .eml from the VM's disk with debugfs.
# Every check is one test in var/image/test-results.json ({passed, failed, skipped, tests}), which
# .ci/run adds to its totals. Set RELAYKIT_IMAGE_SKIP_BUILD=1 to test images already built, and
# RELAYKIT_IMAGE_UPGRADE_FIRMWARE=bios or uefi to run the upgrade test under one firmware only.
# upgrade (test-upgrade.sh): A/B upgrade of a running VM from an attached medium, rollback of a
#   broken one, queued mail kept and delivered; under BIOS (SYSLINUX), then UEFI (systemd-boot).
# Usage: test.sh [all|container|vm|upgrade]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/test-upgrade-vm.sh"
source "$(dirname "$0")/test-upgrade.sh"
only=${1:-all}

[ "$(id -u)" -eq 0 ] || die "run as root"
need podman qemu-system-x86_64 qemu-img genisoimage swaks curl debugfs openssl zstd mtype
T=$OUT/test
RESULTS=$OUT/test-results.json
rm -rf "$T" "$RESULTS" && mkdir -p "$T"
echo '[]' >"$T/results.json"

record() { # record <name> <ok|fail|skip> [detail]
  local name=$1 status=$2 detail=${3:-}
  node -e '
    const fs = require("fs"); const [f, name, status, detail] = process.argv.slice(1);
    const r = JSON.parse(fs.readFileSync(f, "utf8")); r.push({ name, status, detail });
    fs.writeFileSync(f, JSON.stringify(r, null, 2));
  ' "$T/results.json" "$name" "$status" "$detail"
  case $status in ok) log "PASS $name${detail:+ ($detail)}" ;; skip) log "SKIP $name${detail:+ ($detail)}" ;; *) log "FAIL $name${detail:+ ($detail)}" ;; esac
}
# verdict <name> <exit status> <output>: records one test (its detail: the output's last line, or
# last three on failure) and sets LAST_CHECK to ok or fail.
LAST_CHECK=
verdict() {
  if [ "$2" = 0 ]; then
    record "$1" ok "$(tail -1 <<<"$3")"; LAST_CHECK=ok
  else
    record "$1" fail "$(tail -3 <<<"$3" | tr '\n' ' ')"; LAST_CHECK=fail
  fi
}
# check <name> <command...>: one test, passes when the command succeeds. It returns 0 either way, so
# under set -e a failed check never ends the run; its verdict is in LAST_CHECK.
check() {
  local name=$1 out rc=0
  shift
  out=$("$@" 2>&1) || rc=$?
  verdict "$name" "$rc" "$out"
}
# gate <name> <command...>: a check the steps after it depend on; fails as the check did, for
# `gate ... || return`.
gate() { check "$@"; [ "$LAST_CHECK" = ok ]; }
finish() {
  node -e '
    const fs = require("fs"); const [src, dst] = process.argv.slice(1);
    const tests = JSON.parse(fs.readFileSync(src, "utf8"));
    const n = (s) => tests.filter((t) => t.status === s).length;
    fs.writeFileSync(dst, JSON.stringify({ passed: n("ok"), failed: n("fail"), skipped: n("skip"), tests }, null, 2) + "\n");
    console.log(`image tests: ${n("ok")} passed, ${n("fail")} failed, ${n("skip")} skipped`);
  ' "$T/results.json" "$RESULTS"
}

free_port() {
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}
# Waits for an SMTP "220 " greeting on 127.0.0.1:<port>; qemu's user-net accepts the TCP connection
# before the guest listens, so only the banner line counts.
wait_banner() { # wait_banner <port> <timeout-s> [pid that must stay alive]
  local port=$1 deadline=$(($(date +%s) + $2)) pid=${3:-} line
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 2; fi
    line=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && head -1 <&3' _ "$port" 2>/dev/null) || line=
    if [[ $line == 220\ * ]]; then echo "${line%$'\r'}"; return 0; fi
    sleep 1
  done
  return 1
}
send_mail() { # send_mail <port> <subject>: a real SMTP client; fails unless the message is accepted
  swaks --server 127.0.0.1 --port "$1" --helo image-test.localhost --from device@printer.example \
    --to office@contoso.example --header "Subject: $2" --header "X-Relaykit-Test: $2" \
    --body "relaykit image test $2" --timeout 60 --silent 1
}
# The status server stays on the relay's loopback (its queue API can delete mail), so /metrics is
# read from inside the container.
# The container test's bundle puts the status server on 8125 (not the default 8025), so the
# HEALTHCHECK passing proves it reads the configured port.
CONTAINER_HTTP_PORT=8125
delivered_count() { # delivered_count <container>: sum of relaykit_delivered_total over routes
  "${PODMAN[@]}" exec "$1" node -e '
    fetch("http://127.0.0.1:'"$CONTAINER_HTTP_PORT"'/metrics", { signal: AbortSignal.timeout(4000) }).then((r) => r.text()).then((t) => {
      const v = t.split("\n").filter((l) => l.startsWith("relaykit_delivered_total")).map((l) => Number(l.split(" ").pop()));
      if (!v.length) process.exit(1);
      console.log(v.reduce((a, b) => a + b, 0));
    }, () => process.exit(1));'
}
wait_delivered() { # wait_delivered <container> <at-least> <timeout-s>
  local deadline=$(($(date +%s) + $3)) c
  while [ "$(date +%s)" -lt "$deadline" ]; do
    c=$(delivered_count "$1" 2>/dev/null) && [ "$c" -ge "$2" ] && { echo "relaykit_delivered_total=$c"; return 0; }
    sleep 1
  done
  echo "relaykit_delivered_total=${c:-unreadable} after $3 s"
  return 1
}

# --- build -------------------------------------------------------------------------------------------------
if [ "${RELAYKIT_IMAGE_SKIP_BUILD:-0}" != 1 ]; then
  if bash "$IMG_SRC/build.sh" all; then record "image build (container + VM, 4 disk formats)" ok; else
    record "image build (container + VM, 4 disk formats)" fail "see the build log above"
    finish
    exit 1
  fi
fi
TAG=$IMAGE_NAME:$VERSION
RAW=$OUT/relaykit-appliance-$VERSION.raw
DISK=$OUT/relaykit-appliance-$VERSION

# --- container ---------------------------------------------------------------------------------------------
# make_bundle <dir> <config.yaml text>: <dir>/relaykit-bundle.json as infra/ writes it (config + identity).
make_bundle() {
  local dir=$1
  mkdir -p "$dir"
  printf '%s\n' "$2" >"$dir/config.yaml"
  # The appliance identity: a throwaway self-signed certificate + PKCS#8 key, as infra/ would issue.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=relaykit-image-test" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  cat "$dir/cert.pem" "$dir/key.pem" >"$dir/appliance-identity.pem"
  node -e '
    const fs = require("fs"); const d = process.argv[1];
    const bundle = { kind: "relaykit-appliance-bundle", version: 1, site: "image-test", tenant: "TEST",
      files: { "config.yaml": fs.readFileSync(d + "/config.yaml", "utf8"),
               "appliance-identity.pem": fs.readFileSync(d + "/appliance-identity.pem", "utf8") } };
    fs.writeFileSync(d + "/relaykit-bundle.json", JSON.stringify(bundle, null, 2));
  ' "$dir"
  chmod 0644 "$dir/relaykit-bundle.json" "$dir/config.yaml" "$dir/appliance-identity.pem"
}
# The bundle's config as infra/ renders it: no spool.directory, relative paths (var/...), which must
# land on the data volume although the root file system is read-only.
bundle_config() { # bundle_config <listener-port> <http-port> <client-network> <capture-dir>
  cat <<EOF
appliance:
  hostname: relaykit-test.local
listeners:
  - name: devices
    address: 0.0.0.0
    port: $1
    auth: false
identities:
  - name: test-client
    networks: [$3, 127.0.0.0/8]
routes:
  - name: local
    type: capture
    directory: $4
defaultRoute: local
http:
  address: 127.0.0.1
  port: $2
EOF
}
find_eml() { # find_eml <dir> <subject>: waits up to 30 s for the captured .eml carrying the test header
  local f
  for _ in $(seq 30); do
    f=$(grep -rl "X-Relaykit-Test: $2" "$1/outbox" 2>/dev/null | head -1)
    [ -n "$f" ] && { echo "${f#"$1"/}"; return 0; }
    sleep 1
  done
  echo "no .eml with the test header under the volume"; ls -R "$1"; return 1
}
# container_run <name> <smtp-port> <data-dir> <mount args...>: read-only root and no tmpfs (as docker's
# --read-only), no capabilities, slirp4netns with a loopback-only published port.
container_run() {
  local name=$1 port=$2 data=$3; shift 3
  "${PODMAN[@]}" rm -f "$name" >/dev/null 2>&1 || true
  "${PODMAN[@]}" run -d --name "$name" "${RUN_LIMITS[@]}" --read-only --read-only-tmpfs=false --cap-drop=all \
    --security-opt no-new-privileges --network slirp4netns -p "127.0.0.1:$port:2525" \
    -v "$data:/var/lib/relaykit:Z" "$@" "$TAG" >/dev/null
}
fresh_volume() { rm -rf "$1" && mkdir -p "$1" && chown 10025:10025 "$1" && chmod 0750 "$1"; }

container_test() {
  local name=relaykit-image-test smtp data=$T/container-data subject
  smtp=$(free_port)
  fresh_volume "$data"
  # slirp4netns: connections forwarded from the loopback port arrive from inside 10.0.2.0/24.
  make_bundle "$T/container-bundle" "$(bundle_config 2525 "$CONTAINER_HTTP_PORT" 10.0.2.0/24 var/outbox)"
  local t
  t=$(now)
  # The bundle exactly as infra/ writes it, mounted read-only.
  if ! container_run "$name" "$smtp" "$data" \
    -v "$T/container-bundle/relaykit-bundle.json:/etc/relaykit/relaykit-bundle.json:ro" 2>"$T/container-run.err"; then
    record "container: starts (read-only root, no capabilities) and greets" fail "$(tail -2 "$T/container-run.err" | tr '\n' ' ')"
    return
  fi
  local banner
  if banner=$(wait_banner "$smtp" 60); then
    # Two figures: from `podman run` (includes creating the container and its network) and from the
    # moment the runtime started the process (what the image itself costs).
    local started
    started=$("${PODMAN[@]}" inspect --format '{{.State.StartedAt}}' "$name" | sed 's/ [A-Z]*$//')
    figure container_seconds_to_banner "$(elapsed "$t")"
    figure container_process_seconds_to_banner "$(elapsed "$(date -d "$started" +%s.%N)")"
    record "container: starts (read-only root, no capabilities) and greets" ok "$banner after $(elapsed "$t") s"
  else
    "${PODMAN[@]}" logs "$name" 2>&1 | tail -20 >&2
    record "container: starts (read-only root, no capabilities) and greets" fail "no 220 banner within 60 s"
    "${PODMAN[@]}" rm -f "$name" >/dev/null 2>&1
    return
  fi
  subject="container-$(date +%s%N)"
  check "container: swaks message accepted" send_mail "$smtp" "$subject"
  check "container: capture route wrote the message to the data volume" find_eml "$data" "$subject"
  check "container: the mounted bundle (no spool.directory) is installed on the volume, identity 0600" bash -c '
    set -e
    [ -d "$1/spool/queue" ] || { echo "no spool/queue on the volume"; ls -la "$1"; exit 1; }
    m=$(stat -c "%a %u" "$1/bundle/appliance-identity.pem"); [ "$m" = "600 10025" ] || { echo "identity: $m"; exit 1; }
    grep -q "\"site\":\"image-test\"" "$1/bundle/.bundle" || { echo "no bundle marker"; exit 1; }
    echo "spool/ and bundle/ on the volume; bundle/appliance-identity.pem mode $m"' _ "$data"
  check "container: /metrics counts the delivery" wait_delivered "$name" 1 30
  check "container: HEALTHCHECK passes (asks the configured status port)" bash -c '
    "${@:2}" healthcheck run relaykit-image-test \
      && echo "healthy: $("${@:2}" image inspect --format "{{json .Config.Healthcheck.Test}}" "$1")"' _ "$TAG" "${PODMAN[@]}"
  check "container: relaykit-appliance on PATH reads the bundle's config" \
    "${PODMAN[@]}" exec "$name" relaykit-appliance health
  check "container: runs as uid 10025, OCI labels set, only Node and the bundle" bash -c '
    set -e
    user=$("${@:2}" image inspect --format "{{.Config.User}}" "$1"); [ "$user" = 10025:10025 ] || { echo "user $user"; exit 1; }
    for l in version revision source created; do
      v=$("${@:2}" image inspect --format "{{index .Config.Labels \"org.opencontainers.image.$l\"}}" "$1")
      [ -n "$v" ] && [ "$v" != "<no value>" ] || { echo "label $l missing"; exit 1; }
    done
    id=$("${@:2}" exec relaykit-image-test node -e "console.log(process.getuid())"); [ "$id" = 10025 ]
    "${@:2}" exec relaykit-image-test node -e "
      const fs = require(\"fs\");
      for (const p of [\"/opt/relaykit/node_modules\", \"/bin/sh\", \"/usr/bin/apt-get\", \"/usr/local/bin/npm\"]) {
        if (fs.existsSync(p)) { console.log(p + \" is in the image\"); process.exit(1); }
      }
      if (process.versions.node.split(\".\")[0] !== \"24\") { console.log(\"node \" + process.version); process.exit(1); }
      try { fs.writeFileSync(\"/opt/relaykit/x\", \"\"); console.log(\"root is writable\"); process.exit(1); } catch {}
      console.log(\"node \" + process.version + \", read-only root, /opt/relaykit: \" + fs.readdirSync(\"/opt/relaykit\").join(\" \"));"
  ' _ "$TAG" "${PODMAN[@]}"
  t=$(now)
  "${PODMAN[@]}" stop -t 40 "$name" >/dev/null 2>&1
  local code
  code=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$name" 2>/dev/null)
  if [ "$code" = 0 ]; then record "container: SIGTERM drains and exits 0" ok "stopped in $(elapsed "$t") s"; else
    "${PODMAN[@]}" logs "$name" 2>&1 | tail -5 >&2
    record "container: SIGTERM drains and exits 0" fail "exit code $code after $(elapsed "$t") s"
  fi
  "${PODMAN[@]}" rm -f "$name" >/dev/null 2>&1 || true
  container_files_test
}

mail_roundtrip() { # mail_roundtrip <smtp-port> <volume> <subject>
  wait_banner "$1" 60 >/dev/null || { echo "no banner within 60 s"; return 1; }
  send_mail "$1" "$3" && find_eml "$2" "$3"
}
# The other documented way: the bundle's config.yaml and identity mounted as files into /etc/relaykit.
container_files_test() {
  local name=relaykit-image-test-files data=$T/container-data-files smtp subject
  smtp=$(free_port)
  fresh_volume "$data"
  subject="container-files-$(date +%s%N)"
  container_run "$name" "$smtp" "$data" -v "$T/container-bundle/config.yaml:/etc/relaykit/config.yaml:ro" \
    -v "$T/container-bundle/appliance-identity.pem:/etc/relaykit/appliance-identity.pem:ro" 2>"$T/container-run.err"
  check "container: a mounted config.yaml without spool.directory spools and captures on the volume" \
    mail_roundtrip "$smtp" "$data" "$subject"
  "${PODMAN[@]}" logs "$name" >"$T/container-files.log" 2>&1
  "${PODMAN[@]}" rm -f "$name" >/dev/null 2>&1 || true
}

# --- VM ----------------------------------------------------------------------------------------------------
make_seed() {
  local dir=$T/seed
  rm -rf "$dir"
  # qemu user-net: forwarded connections arrive from 10.0.2.2. Relative paths (var/...) resolve
  # against /etc/relaykit, which the appliance points at its state directory.
  # The VM's bundle also opens the LAN admin page (TLS with a generated self-signed certificate, one
  # user): its fingerprint must reach the console.
  local hash
  hash=$(printf 'image-test-password\n' | "${PODMAN[@]}" run --rm -i "${RUN_LIMITS[@]}" --network none "$TAG" hash-password) \
    || die "hash-password in the container image failed"
  make_bundle "$dir" "$(bundle_config 25 8025 10.0.2.0/24 var/outbox)
admin:
  listener:
    address: 0.0.0.0
    port: $VM_ADMIN_PORT
  users:
    - username: technician
      passwordHash: \"$hash\"
      role: admin"
  mkdir -p "$dir/iso"
  cp "$dir/relaykit-bundle.json" "$dir/iso/"
  printf 'instance-id: relaykit-image-test\nlocal-hostname: relaykit\n' >"$dir/iso/meta-data"
  printf '#cloud-config\n{}\n' >"$dir/iso/user-data"
  genisoimage -quiet -output "$T/seed.iso" -volid cidata -joliet -rock "$dir/iso" 2>/dev/null
}

VM_ADMIN_PORT=8443
# console_fingerprint <serial.log>: the SHA-256 fingerprint on the console's "admin page" line.
console_fingerprint() {
  tr -d '\r' <"$1" | grep -a 'relaykit: admin page https://' | tail -1 | grep -o 'SHA-256 [0-9A-F:]\{95\}' | cut -d' ' -f2
}
# admin_fingerprint_check <serial.log> <forwarded admin port>: the console names the admin page at the
# VM's address with a fingerprint, and it is the fingerprint of the certificate the page serves.
admin_fingerprint_check() {
  local line fp served
  for _ in $(seq 90); do
    line=$(tr -d '\r' <"$1" | grep -a 'relaykit: admin page https://10\.0\.2\.15:'"$VM_ADMIN_PORT"'/ certificate SHA-256 ' | tail -1)
    [ -n "$line" ] && break; sleep 1
  done
  [ -n "$line" ] || { echo "no admin page line on the console"; tr -d '\r' <"$1" | grep -a 'relaykit:' | tail -5; return 1; }
  fp=$(console_fingerprint "$1")
  [ -n "$fp" ] || { echo "no fingerprint in: $line"; return 1; }
  served=$(openssl s_client -connect "127.0.0.1:$2" -servername relaykit-test.local </dev/null 2>/dev/null \
    | openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//')
  [ "$served" = "$fp" ] || { echo "console shows $fp, the admin listener serves $served"; return 1; }
  echo "console: ${line#*relaykit: }; the listener serves the same certificate"
}
# watchdog_check <serial.log>: relaykit-boot-report prints the unit's state once the relay has run for
# longer than WatchdogSec: still active, never restarted, and systemd saw a WATCHDOG=1 after READY=1.
watchdog_check() {
  local line
  line=$(tr -d '\r' <"$1" | grep -a 'relaykit-boot: watchdog ' | tail -1)
  [ -n "$line" ] || { echo "no watchdog report on the console"; return 1; }
  node -e '
    const line = process.argv[1];
    const p = Object.fromEntries([...line.matchAll(/(\w+)=(\S*)/g)].map((m) => [m[1], m[2]]));
    const bad = [];
    if (p.ActiveState !== "active" || p.SubState !== "running") bad.push(`state ${p.ActiveState}/${p.SubState}`);
    if (p.WatchdogUSec !== "1min") bad.push(`WatchdogUSec=${p.WatchdogUSec}`);
    if (p.NRestarts !== "0") bad.push(`NRestarts=${p.NRestarts}`);
    if (!(Number(p.WatchdogTimestampMonotonic) > Number(p.ActiveEnterTimestampMonotonic))) bad.push("no keep-alive after READY=1");
    if (bad.length) { console.log(bad.join(", ") + " in: " + line); process.exit(1); }
    const s = (Number(p.WatchdogTimestampMonotonic) - Number(p.ActiveEnterTimestampMonotonic)) / 1e6;
    console.log(`relaykit.service active, WatchdogUSec=${p.WatchdogUSec}, no restart; last keep-alive ${s.toFixed(0)} s after READY=1`);
  ' "$line"
}
# check_fingerprint_check <overlay> <fw> <serial.log>: `relaykit-appliance check` (from the container
# image) over the config and admin-tls/ on the VM's data partition prints the console's fingerprint.
check_fingerprint_check() {
  local data=$T/data-check-$2.img dump=$T/data-check-$2 raw=$T/disk-check-$2.raw out fp
  qemu-img convert -O raw "$1" "$raw" && partition_image "$raw" relaykit-data "$data" || return 1
  rm -f "$raw"
  rm -rf "$dump" && mkdir -p "$dump"
  debugfs -R "rdump /config /admin-tls $dump" "$data" >/dev/null 2>&1
  rm -f "$data"
  [ -f "$dump/admin-tls/admin-cert.pem" ] || { echo "no admin-tls/admin-cert.pem on the data partition"; return 1; }
  out=$("${PODMAN[@]}" run --rm "${RUN_LIMITS[@]}" --network none -v "$dump:/var/lib/relaykit:ro" "$TAG" \
    check --schema-only --config /var/lib/relaykit/config/config.yaml 2>&1) || { echo "check failed: $out"; return 1; }
  fp=$(console_fingerprint "$3")
  grep -q "certificate SHA-256 $fp " <<<"$out" || { echo "console shows '$fp', check says: $(grep -a 'admin listener' <<<"$out")"; return 1; }
  echo "check: $(grep -a 'admin listener' <<<"$out")"
}

# firmware_args <bios|uefi> <vars-file>: qemu's machine and firmware options in FW_ARGS. BIOS: the pc
# machine (SeaBIOS, IDE CD drives); UEFI: q35 (AHCI) with OVMF and a fresh copy of its variable store.
firmware_args() {
  FW_ARGS=(-machine pc,accel=tcg)
  if [ "$1" = uefi ]; then
    cp /usr/share/OVMF/OVMF_VARS_4M.fd "$2"
    FW_ARGS=(-machine q35,accel=tcg -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd
      -drive "if=pflash,format=raw,file=$2")
  fi
}
# vm_boot <bios|uefi> <disk-file> <format>: boots, mails, powers off, then inspects the disk.
vm_boot() {
  local fw=$1 image=$2 fmt=$3 smtp admin mon=$T/qemu-$1.mon serial=$T/serial-$1.log overlay=$T/overlay-$1.qcow2
  smtp=$(free_port)
  admin=$(free_port)
  # Writes go to an overlay so the disk can be inspected afterwards; the built image stays pristine.
  # The overlay is 1 GiB bigger than the image, as when a hypervisor's disk is resized: first boot
  # must grow the data partition into it.
  local virtual
  virtual=$(qemu-img info --output=json -f "$fmt" "$image" | node -e 'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s)["virtual-size"]))')
  qemu-img create -q -f qcow2 -b "$image" -F "$fmt" "$overlay" "$((virtual + 1024 * 1024 * 1024))"
  firmware_args "$fw" "$T/vars.fd"
  rm -f "$serial"
  local t
  t=$(now)
  # The seed is a CD-ROM, as Proxmox and most hypervisors attach it (IDE on pc, AHCI on q35).
  qemu-system-x86_64 "${FW_ARGS[@]}" -m 1024 -smp 2 -cpu max -display none -monitor "unix:$mon,server,nowait" \
    -serial "file:$serial" \
    -drive "file=$overlay,if=virtio,format=qcow2" -drive "file=$T/seed.iso,media=cdrom,readonly=on" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$smtp-:25,hostfwd=tcp:127.0.0.1:$admin-:$VM_ADMIN_PORT" \
    -device virtio-net-pci,netdev=n0 >"$T/qemu-$fw.log" 2>&1 &
  local qpid=$!
  local banner
  # Under software emulation on a busy 2-core machine the first boot has taken up to 10 min.
  if banner=$(wait_banner "$smtp" 900 "$qpid"); then
    local secs
    secs=$(elapsed "$t")
    figure "boot_${fw}_seconds_to_banner" "$secs"
    record "VM ($fw, $fmt): boots to the SMTP banner on a forwarded port" ok "$banner after $secs s"
  else
    record "VM ($fw, $fmt): boots to the SMTP banner on a forwarded port" fail "no banner; serial tail: $(tail -c 600 "$serial" 2>/dev/null | tr -d '\r' | tr '\n' '|')"
    kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null
    return
  fi
  local subject
  subject="vm-$fw-$(date +%s%N)"
  check "VM ($fw): swaks message accepted on port 25" send_mail "$smtp" "$subject"
  # The status server stays on the guest's loopback; the console line (serial) carries its counters.
  check "VM ($fw): console shows the address, a healthy relay and the delivery from /metrics" bash -c '
    for i in $(seq 90); do
      l=$(tr -d "\r" <"$1" | grep -a "relaykit: address 10\.0\.2\.15.*relay healthy.*delivered [1-9]" | tail -1)
      [ -n "$l" ] && { echo "$l"; exit 0; }; sleep 1
    done
    echo "no console line with a delivery"; tr -d "\r" <"$1" | grep -a "relaykit" | tail -5; exit 1' _ "$serial"
  check "VM ($fw): console shows the admin page's certificate SHA-256 fingerprint, the one it serves" \
    admin_fingerprint_check "$serial" "$admin"
  # The boot report (systemd-analyze) comes once systemd has finished booting, its watchdog line once
  # the relay has run for longer than WatchdogSec (60 s); give it a while.
  for _ in $(seq 300); do grep -aq 'relaykit-boot: watchdog ' "$serial" && break; sleep 1; done
  check "VM ($fw): relaykit.service is Type=notify with WatchdogSec and its keep-alives arrive" watchdog_check "$serial"
  # ACPI power button: systemd stops the relay with SIGTERM (drain), then powers off.
  monitor "$mon" system_powerdown >/dev/null || true
  local i
  for i in $(seq 120); do kill -0 "$qpid" 2>/dev/null || break; sleep 1; done
  if kill -0 "$qpid" 2>/dev/null; then
    record "VM ($fw): powers off cleanly on ACPI shutdown" fail "still running after 120 s"
    kill "$qpid" 2>/dev/null
  else
    record "VM ($fw): powers off cleanly on ACPI shutdown" ok "in $i s"
  fi
  wait "$qpid" 2>/dev/null
  check "VM ($fw): data partition grown to the disk's end; bundle and captured message on it" inspect_disk "$overlay" "$subject" "$fw"
  # e2fsck -p in the initramfs (vm/overlay/usr/local/lib/relaykit/check-data) prints its verdict there.
  check "VM ($fw): the initramfs checked the data partition's file system before systemd" bash -c '
    tr -d "\r" <"$1" | grep -a -m1 -E "(relaykit-data|/dev/[a-z0-9]+): clean, " || { echo "no e2fsck verdict on the console"; exit 1; }' _ "$serial"
  # ... and mounted it and grew its file system into the enlarged disk (check-data; no systemd-growfs).
  check "VM ($fw): the initramfs mounted the data partition and grew its file system" bash -c '
    tr -d "\r" <"$1" | grep -a -m1 "relaykit: data partition .*: file system grown to the partition" \
      || { echo "no resize line from the initramfs on the console"; exit 1; }' _ "$serial"
  check "VM ($fw): \`check\` over the VM's config prints the console's admin certificate fingerprint" \
    check_fingerprint_check "$overlay" "$fw" "$serial"
  boot_report "$fw" "$serial"
}

# Reads the VM's root filesystem from the overlay without mounting (debugfs on an extracted copy).
# partition_image <disk.raw> <name> <out>: copies one GPT partition (by name) out of a raw disk.
partition_image() {
  local start size
  read -r start size < <(sfdisk -d "$1" | awk -F'[=,]' -v n="name=\"$2\"" 'index($0, n) { gsub(/ /, ""); print $2, $4 }')
  [ -n "$start" ] || { echo "no partition named $2"; return 1; }
  dd if="$1" of="$3" bs=512 skip="$start" count="$size" conv=sparse status=none
}

# boot_report <fw> <serial.log>: systemd-analyze time and blame, as relaykit-boot-report.service
# printed them on the console, into the test log and figures (a benchmark, not a check).
boot_report() {
  local lines secs
  lines=$(tr -d '\r' <"$2" | grep -a 'relaykit-boot: ' | sed 's/.*relaykit-boot: //' || true)
  [ -n "$lines" ] || { log "VM ($1): no systemd-analyze report on the console"; return 0; }
  printf '%s\n' "$lines" | sed "s/^/  $1 /" >&2
  secs=$(grep -o '= [0-9.]*s$' <<<"$lines" | head -1 | tr -dc '0-9.' || true)
  [ -n "$secs" ] && figure "boot_${1}_systemd_seconds" "$secs"
  return 0
}

# Reads the VM's data partition from the overlay without mounting (debugfs on an extracted copy):
# the bundle (config/), the captured message (outbox/), and that the partition and its file system
# were grown to the end of the enlarged disk.
inspect_disk() {
  local overlay=$1 subject=$2 fw=$3 raw=$T/disk-$3.raw data=$T/data-$3.img
  qemu-img convert -O raw "$overlay" "$raw"
  partition_image "$raw" relaykit-data "$data" || return 1
  local disk_sectors part_end
  disk_sectors=$(($(stat -c %s "$raw") / 512))
  part_end=$(sfdisk -d "$raw" | awk -F'[=,]' '/name="relaykit-data"/ { gsub(/ /, ""); print $2 + $4 }')
  rm -f "$raw"
  local stat
  stat=$(debugfs -R 'stat /config/appliance-identity.pem' "$data" 2>/dev/null)
  grep -q 'Mode:  0600' <<<"$stat" && grep -q 'User: 10025' <<<"$stat" \
    || { echo "config/appliance-identity.pem not 0600 relaykit on the data partition: $stat"; rm -f "$data"; return 1; }
  debugfs -R 'cat /config/.bundle' "$data" 2>/dev/null | grep -q '"site":"image-test"' || { echo "no bundle marker"; rm -f "$data"; return 1; }
  # Grown: the partition ends within 1 MiB of the disk's end, and ext4 fills the partition.
  local fs_bytes part_bytes
  fs_bytes=$(debugfs -R stats "$data" 2>/dev/null | awk -F: '/^Block count/ { c = $2 } /^Block size/ { s = $2 } END { print c * s }')
  part_bytes=$(stat -c %s "$data")
  if [ $((disk_sectors - part_end)) -gt 2048 ] || [ $((part_bytes - fs_bytes)) -gt $((8 * 1024 * 1024)) ]; then
    echo "data not grown: partition ends at sector $part_end of $disk_sectors, ext4 $fs_bytes of $part_bytes bytes"
    rm -f "$data"; return 1
  fi
  local f
  for f in $(debugfs -R 'ls -p /outbox' "$data" 2>/dev/null | awk -F/ '$6 ~ /\.eml$/ { print $6 }'); do
    if debugfs -R "cat /outbox/$f" "$data" 2>/dev/null | grep -q "X-Relaykit-Test: $subject"; then
      echo "data partition grown to $((part_bytes / 1048576)) MiB (ext4 $((fs_bytes / 1048576)) MiB); bundle in config/ (identity 0600 uid 10025); message in outbox/$f"
      rm -f "$data"
      return 0
    fi
  done
  echo "message with X-Relaykit-Test: $subject not found in outbox/ on the data partition"
  debugfs -R 'ls -l /' "$data" 2>/dev/null | head
  rm -f "$data"
  return 1
}

case $only in all | container) container_test ;; esac
case $only in all | vm)
  make_seed
  # Each exported format must hold exactly the raw disk's contents.
  for f in qcow2 vmdk vhdx; do
    check "disk image: $f has the same contents as the raw disk" qemu-img compare -q -f raw -F "$f" "$RAW" "$DISK.$f"
  done
  # BIOS from the qcow2 (Proxmox's default SeaBIOS), UEFI from the raw image (OVMF + systemd-boot).
  vm_boot bios "$DISK.qcow2" qcow2
  vm_boot uefi "$RAW" raw
  ;;
esac
case $only in all | upgrade) upgrade_test ;; esac
finish
bash "$IMG_SRC/build.sh" summary
node -e 'process.exit(require(process.argv[1]).failed === 0 ? 0 : 1)' "$RESULTS"

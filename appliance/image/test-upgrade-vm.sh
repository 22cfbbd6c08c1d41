# The upgrade test's VM (sourced by test.sh before test-upgrade.sh): one qemu per run, its console (a
# serial log), its monitor (a unix socket, as a hypervisor admin's console) and the waits for console
# lines, including across the run's reboots.
#
# A reset that hangs in the firmware: under TCG (Debian 12's qemu 7.2 and OVMF 2022.11, q35, 2 vCPUs)
# a guest reboot sometimes ends with the kernel's `reboot: Restarting system` and then nothing at all
# on the console, where OVMF writes its first lines within seconds: CI saw 25 min of silence (stop
# 27), and a run on 2026-12-04 a hang at the first UEFI reboot, vCPU 0 spinning in firmware code
# (RIP 0x3f0xxxxx, qemu at 94 % of a core), vCPU 1 halted. A cold start of the same disk boots; edk2
# has an open report of warm-reset-only hangs under KVM (tianocore/edk2#12441). That is the emulated
# firmware, not the appliance: on a hypervisor an admin power-cycles such a VM. wait_boot does the
# same, once per wait: when the console has said nothing readable for UPGRADE_SILENT s after that
# line, it stops qemu and starts it again on the same disk, firmware variables and attached medium,
# the console log continuing (the ESP still names the boot that was due: a trial entry stays the
# default until that boot's initramfs puts the fallback back), and notes it in power-cycles.log, in
# the check's detail and in the upgrade*_power_cycles figure. A second hang in the same wait, or a
# silence after any other line, fails the check.

UPGRADE_SILENT=${RELAYKIT_IMAGE_UPGRADE_SILENT:-240}

# serial_size <log>: where the log ends now (a later wait_serial looks only after it).
serial_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
# serial_line <log> <offset> <extended regexp>: the first matching line after the offset, if any.
serial_line() { tail -c +"$(($2 + 1))" "$1" 2>/dev/null | tr -d '\r' | grep -a -E -m1 -- "$3"; }
# serial_tail <log> <bytes>: the end of the console, on one line (for a failure's detail).
serial_tail() { tail -c "$2" "$1" | tr -d '\r' | tr '\n' '|'; }
# wait_serial <log> <offset> <extended regexp> <timeout-s> [qemu pid]: prints the first matching line.
wait_serial() {
  local deadline=$(($(date +%s) + $4)) line
  while [ "$(date +%s)" -lt "$deadline" ]; do
    line=$(serial_line "$1" "$2" "$3") && { echo "$line"; return 0; }
    if [ -n "${5:-}" ] && ! kill -0 "$5" 2>/dev/null; then echo "qemu exited"; return 1; fi
    sleep 2
  done
  echo "no console line matching /$3/ within $4 s; console tail: $(serial_tail "$1" 700)"
  return 1
}
monitor() { # monitor <socket> <HMP command>: prints qemu's answer (the lines before its next prompt)
  node -e '
    const [sock, cmd] = process.argv.slice(1);
    let buf = "", sent = false;
    const c = require("net").connect(sock);
    const done = (code) => { c.destroy(); clearTimeout(t); process.exit(code); };
    const t = setTimeout(() => { console.error("no answer from the qemu monitor within 30 s"); done(1); }, 30000);
    c.on("error", (e) => { console.error(e.message); done(1); });
    c.on("close", () => { console.error("the qemu monitor closed before it answered"); done(1); });
    c.on("data", (d) => {
      buf += d.toString("latin1");
      if (!sent) { if (buf.includes("(qemu)")) { sent = true; buf = ""; c.write(cmd + "\n"); } return; }
      const i = buf.indexOf("(qemu)");
      if (i < 0) return;
      // The monitor echoes the command with terminal escapes; the answer is every line after the echo.
      const lines = buf.slice(0, i).replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").split(/\r?\n/).slice(1);
      const answer = lines.map((l) => l.trim()).filter(Boolean).join("; ");
      if (answer) console.log(answer);
      done(0);
    });' "$1" "$2"
}
UPG_MEDIUM=
# insert_medium <socket> <iso>: as an admin swaps the ISO: eject what is there, insert the new one.
# Fails, saying why, when the hypervisor does not take the medium: a guest that shut and locked the
# emptied tray makes qemu refuse the insert (it then opens the tray, still empty), and the appliance
# would wait for an upgrade that never comes (the image test once waited 15 min for it). Runs inside a
# check (a subshell): swap_medium records the medium for a power cycle's restart.
insert_medium() {
  local answer drive
  monitor "$1" "eject -f upgrade" >/dev/null || return 1
  sleep 2
  answer=$(monitor "$1" "change upgrade $2 raw") || { echo "$answer"; return 1; }
  drive=$(monitor "$1" "info block upgrade") || { echo "$drive"; return 1; }
  case $drive in
    *"$2"*) echo "inserted $(basename "$2")" ;;
    *) echo "the drive did not take $(basename "$2"): change said '${answer:-nothing}'; the drive: $drive"; return 1 ;;
  esac
}
# swap_medium <check name> <socket> <iso>: insert_medium as a gate; a qemu started again after a power
# cycle holds this medium.
swap_medium() {
  UPG_MEDIUM=$3
  gate "$1" insert_medium "$2" "$3"
}

# upgrade_vm <bios|uefi> <dir> <smtp-port>: the VM of one run: BIOS from the qcow2 (SeaBIOS, SYSLINUX),
# UEFI from the raw image (OVMF, systemd-boot) as vm_boot does, on an overlay and a fresh copy of the
# firmware variables; the upgrade CD drive starts empty, the test inserts media as a hypervisor admin
# would. qemu runs in the background (UPG_QPID).
UPG_QPID=
UPG_FW_ARGS=()
UPG_DIR=
UPG_SMTP=
UPG_CYCLES=0
upgrade_vm() {
  local fw=$1 disk=$DISK.qcow2 fmt=qcow2
  [ "$fw" = uefi ] && disk=$RAW fmt=raw
  UPG_DIR=$2 UPG_SMTP=$3 UPG_MEDIUM= UPG_CYCLES=0
  qemu-img create -q -f qcow2 -b "$disk" -F "$fmt" "$UPG_DIR/overlay.qcow2"
  firmware_args "$fw" "$UPG_DIR/vars.fd"
  UPG_FW_ARGS=("${FW_ARGS[@]}")
  upgrade_qemu
}
# upgrade_qemu: starts (or, after a power cycle, restarts) the run's qemu; the console log is appended
# to, and the upgrade drive holds the medium last inserted.
upgrade_qemu() {
  local d=$UPG_DIR medium=(-drive if=ide,index=2,media=cdrom,id=upgrade)
  [ -z "$UPG_MEDIUM" ] || medium=(-drive "if=ide,index=2,media=cdrom,id=upgrade,file=$UPG_MEDIUM,format=raw")
  qemu-system-x86_64 "${UPG_FW_ARGS[@]}" -m 1024 -smp 2 -cpu max -display none -monitor "unix:$d/qemu.mon,server,nowait" \
    -chardev "file,id=ser0,path=$d/serial.log,append=on" -serial chardev:ser0 \
    -drive "file=$d/overlay.qcow2,if=virtio,format=qcow2" -drive "file=$d/seed.iso,media=cdrom,readonly=on" "${medium[@]}" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$UPG_SMTP-:25" -device virtio-net-pci,netdev=n0 >>"$d/qemu.log" 2>&1 &
  UPG_QPID=$!
}
upgrade_stop_vm() { # upgrade_stop_vm: qemu is gone (killed if it still runs)
  [ -z "$UPG_QPID" ] || { kill "$UPG_QPID" 2>/dev/null || true; wait "$UPG_QPID" 2>/dev/null || true; }
  UPG_QPID=
}
upgrade_power_cycle() { # upgrade_power_cycle <why>: off and on again, as an admin does to a hung VM
  UPG_CYCLES=$((UPG_CYCLES + 1))
  printf '%s %s: power cycle: %s\n' "$(date -u +%H:%M:%S)" "$UPG_DIR" "$1" >>"$UPG/power-cycles.log"
  log "upgrade: power cycle of the VM in $UPG_DIR: $1"
  upgrade_stop_vm
  upgrade_qemu
}

# hung_at_reset <log> <quiet-since>: the console has said nothing for UPGRADE_SILENT s, and nothing
# readable since the kernel's `reboot: Restarting system` (at most the firmware's screen escapes).
hung_at_reset() {
  [ $(($(date +%s) - $2)) -ge "$UPGRADE_SILENT" ] || return 1
  local text after
  text=$(tail -c 4000 "$1" | tr -d '\r\0')
  [[ $text == *"reboot: Restarting system"* ]] || return 1
  after=$(printf '%s' "${text##*reboot: Restarting system}" | sed 's/\x1b\[[0-9;?=]*[A-Za-z]//g; s/\x1bc//g' | tr -d '[:space:]')
  [ -z "$after" ]
}
# wait_boot <log> <offset> <extended regexp> <timeout-s>: wait_serial for a line that comes after a
# reboot of the run's VM (UPG_QPID), with at most one power cycle when the reset hangs (see the top).
# Runs in the caller's shell (boot_gate), so a restarted qemu is the run's from then on.
wait_boot() {
  local log=$1 re=$3 deadline=$(($(date +%s) + $4)) line size last=-1 quiet=0 cycled=
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if line=$(serial_line "$log" "$2" "$re"); then
      echo "$line${cycled:+ (after a power cycle: $cycled)}"
      return 0
    fi
    kill -0 "$UPG_QPID" 2>/dev/null || { echo "qemu exited"; return 1; }
    size=$(serial_size "$log")
    if [ "$size" != "$last" ]; then
      last=$size quiet=$(date +%s)
    elif hung_at_reset "$log" "$quiet"; then
      [ -z "$cycled" ] || { echo "the reset hung again after a power cycle; console tail: $(serial_tail "$log" 300)"; return 1; }
      cycled="console silent for $UPGRADE_SILENT s after 'reboot: Restarting system'"
      upgrade_power_cycle "$cycled"
      quiet=$(date +%s)
    fi
    sleep 2
  done
  echo "no console line matching /$re/ within $4 s; console tail: $(serial_tail "$log" 700)"
  return 1
}
# boot_gate <name> <wait_boot args...>: a gate over wait_boot, run in this shell (check runs its
# command in a subshell, where a restarted qemu would be lost).
boot_gate() {
  local name=$1 out=$UPG/boot-gate.out rc=0
  shift
  wait_boot "$@" >"$out" 2>&1 || rc=$?
  verdict "$name" "$rc" "$(cat "$out")"
  [ "$LAST_CHECK" = ok ]
}

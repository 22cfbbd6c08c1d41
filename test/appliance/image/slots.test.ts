// The VM's A/B boot selector (appliance/image/vm/overlay/usr/local/lib/relaykit/slots) and the
// upgrade command's file check (usr/local/sbin/relaykit-upgrade), run on a directory standing in
// for the ESP. The qemu test (npm run image:test, checks "upgrade: …") boots what these render;
// this pins the formats both boot loaders read and the refusals, in `npm test`.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const OVERLAY = join(import.meta.dirname, '../../../appliance/image/vm/overlay');
const SLOTS = join(OVERLAY, 'usr/local/lib/relaykit/slots');
const UPGRADE = join(OVERLAY, 'usr/local/sbin/relaykit-upgrade');

let esp: string;
beforeEach(() => {
  esp = mkdtempSync(join(tmpdir(), 'relaykit-esp-'));
  for (const s of ['a', 'b']) {
    mkdirSync(join(esp, 'relaykit', s), { recursive: true });
    writeFileSync(join(esp, 'relaykit', s, 'vmlinuz'), 'kernel');
    writeFileSync(join(esp, 'relaykit', s, 'initrd.img'), 'initrd');
  }
  writeFileSync(join(esp, 'relaykit/cmdline'), 'rw console=ttyS0,115200 quiet\n');
  writeFileSync(join(esp, 'relaykit/slots'), 'good=a\ntrial=\n');
});
afterEach(() => rmSync(esp, { recursive: true, force: true }));

function slots(...args: string[]) {
  return spawnSync('bash', [SLOTS, ...args], { encoding: 'utf8' });
}
const read = (p: string) => readFileSync(join(esp, p), 'utf8');

describe('boot selector', () => {
  it('renders both loaders to start the good slot by its partition name', () => {
    expect(slots('render', esp).status).toBe(0);
    expect(read('loader/loader.conf')).toContain('default relaykit-a.conf\n');
    expect(read('loader/entries/relaykit-a.conf')).toBe(
      'title relaykit (slot a)\nlinux /relaykit/a/vmlinuz\ninitrd /relaykit/a/initrd.img\n' +
        'options root=/dev/disk/by-partlabel/relaykit-root-a relaykit.slot=a rw console=ttyS0,115200 quiet\n',
    );
    const cfg = read('syslinux/syslinux.cfg');
    expect(cfg).toContain('DEFAULT relaykit-a\n');
    expect(cfg).toContain(
      'LABEL relaykit-b\n  LINUX /relaykit/b/vmlinuz\n  INITRD /relaykit/b/initrd.img\n' +
        '  APPEND root=/dev/disk/by-partlabel/relaykit-root-b relaykit.slot=b rw console=ttyS0,115200 quiet\n',
    );
    expect(cfg).not.toContain('relaykit.trial');
    expect(existsSync(join(esp, 'loader/entries/relaykit-trial.conf'))).toBe(false);
  });

  it('a trial starts the new slot once: the live configs try it, the fallback pair starts the good one', () => {
    expect(slots('set', esp, 'trial=b', 'ready=120').status).toBe(0);
    expect(read('loader/loader.conf')).toContain('default relaykit-trial.conf\n');
    expect(read('loader/entries/relaykit-trial.conf')).toContain(
      'options root=/dev/disk/by-partlabel/relaykit-root-b relaykit.slot=b rw console=ttyS0,115200 quiet relaykit.trial=120 panic=10\n',
    );
    expect(read('syslinux/syslinux.cfg')).toContain('DEFAULT relaykit-trial\n');
    expect(read('syslinux/syslinux.cfg')).toContain(
      '  APPEND root=/dev/disk/by-partlabel/relaykit-root-b relaykit.slot=b',
    );
    // What the trial boot's initramfs copies over the live pair.
    expect(read('relaykit/fallback/loader.conf')).toContain('default relaykit-a.conf\n');
    expect(read('relaykit/fallback/syslinux.cfg')).toContain('DEFAULT relaykit-a\n');
    expect(read('relaykit/fallback/syslinux.cfg')).not.toContain('relaykit.trial');
    // Confirmed: b becomes the default, the trial entry goes.
    expect(slots('set', esp, 'good=b', 'trial=').status).toBe(0);
    expect(read('loader/loader.conf')).toContain('default relaykit-b.conf\n');
    expect(read('syslinux/syslinux.cfg')).toContain('DEFAULT relaykit-b\n');
    expect(existsSync(join(esp, 'loader/entries/relaykit-trial.conf'))).toBe(false);
    expect(slots('get', esp, 'good').stdout.trim()).toBe('b');
  });

  it('refuses a state the loaders cannot boot and keeps the previous one', () => {
    expect(slots('render', esp).status).toBe(0);
    const r = slots('set', esp, 'trial=a');
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('slot a cannot be both good and on trial');
    expect(read('relaykit/slots')).toBe('good=a\ntrial=\n');
    rmSync(join(esp, 'relaykit/b'), { recursive: true });
    const noKernel = slots('set', esp, 'trial=b');
    expect(noKernel.status).toBe(1);
    expect(noKernel.stderr).toContain('no kernel for the trial slot b');
    expect(read('loader/loader.conf')).not.toContain('trial');
  });
});

describe('relaykit-upgrade checks the file against SHA256SUMS before anything else', () => {
  let dir: string;
  const name = 'relaykit-appliance-9.9.9-root.img.zst';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'relaykit-upgrade-'));
    const zstd = spawnSync('zstd', ['-q', '-o', join(dir, name)], { input: 'a root file system' });
    if (zstd.status !== 0) throw new Error('zstd is needed (Debian: zstd)');
    const sum = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
    writeFileSync(join(dir, 'SHA256SUMS'), `${sum}  ${name}\n`);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const upgrade = (...args: string[]) => spawnSync('bash', [UPGRADE, ...args], { encoding: 'utf8' });

  it('a matching file passes the check (and this host, booted from no slot, is refused next)', () => {
    const r = upgrade(join(dir, name));
    expect(r.stdout).toContain(`relaykit-upgrade: ${name}: SHA-256 matches SHA256SUMS`);
    expect(r.status).toBe(1);
  });

  it('a damaged file is refused with both digests and "nothing written"', () => {
    const good = readFileSync(join(dir, 'SHA256SUMS'), 'utf8').split(' ')[0];
    const bytes = readFileSync(join(dir, name));
    bytes.writeUInt8((bytes.at(-1) ?? 0) ^ 0xff, bytes.length - 1);
    writeFileSync(join(dir, name), bytes);
    const r = upgrade(join(dir, name));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `relaykit-upgrade: refused: ${name} does not match SHA256SUMS (expected ${good}, got `,
    );
    expect(r.stderr).toContain('nothing written');
    expect(r.stdout).not.toContain('matches');
  });

  it('a file SHA256SUMS does not list, or no SHA256SUMS, is refused', () => {
    writeFileSync(join(dir, 'SHA256SUMS'), `${'0'.repeat(64)}  other.img.zst\n`);
    const unlisted = upgrade(join(dir, name));
    expect(unlisted.status).toBe(1);
    expect(unlisted.stderr).toContain(
      `refused: ${join(dir, 'SHA256SUMS')} has no line for ${name}; nothing written`,
    );
    rmSync(join(dir, 'SHA256SUMS'));
    const none = upgrade(join(dir, name));
    expect(none.status).toBe(1);
    expect(none.stderr).toContain('refused: no SHA256SUMS at');
  });
});

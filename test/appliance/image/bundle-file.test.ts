import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BundleError,
  checkFilePath,
  installBundle,
  installedDigest,
  parseBundle,
} from '../../../appliance/image/bundle-file.ts';
import { containerBundleConfig } from '../../../appliance/image/container-bundle.ts';
import {
  consoleEnv,
  consoleFacts,
  findSeedDevice,
  findSeedOptical,
  isMountPoint,
  iso9660VolumeId,
  userIds,
  waitForMount,
} from '../../../appliance/image/firstboot.ts';

const CONFIG =
  'listeners:\n  - name: devices\n    address: 0.0.0.0\n    port: 25\nhttp:\n  address: 0.0.0.0\n  port: 8026\n';

function bundleText(overrides: Record<string, unknown> = {}, files: Record<string, unknown> = {}): string {
  return JSON.stringify({
    kind: 'relaykit-appliance-bundle',
    version: 1,
    site: 'hq',
    tenant: 'CONTOSO',
    files: { 'config.yaml': CONFIG, 'appliance-identity.pem': '-----BEGIN CERTIFICATE-----\n', ...files },
    ...overrides,
  });
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'relaykit-firstboot-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('parseBundle', () => {
  it('accepts the bundle contract and lists its files', () => {
    const b = parseBundle(bundleText({}, { 'tls/relay.key': 'k' }));
    expect(b.site).toBe('hq');
    expect(b.tenant).toBe('CONTOSO');
    expect(b.files.map((f) => f.path)).toEqual(['config.yaml', 'appliance-identity.pem', 'tls/relay.key']);
    expect(b.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it.each([
    [{ kind: 'something-else' }, 'kind must be "relaykit-appliance-bundle"'],
    [{ version: 2 }, 'version 2 is not supported'],
    [{ site: '' }, 'site must be a non-empty string'],
    [{ tenant: 7 }, 'tenant must be a non-empty string'],
    [{ files: [] }, 'files must be an object'],
  ])('rejects %j', (override, message) => {
    expect(() => parseBundle(bundleText(override))).toThrow(message);
  });

  it('rejects text that is not a JSON object', () => {
    expect(() => parseBundle('not json')).toThrow(BundleError);
    expect(() => parseBundle('[1]')).toThrow('must be a JSON object');
  });

  it('requires config.yaml and string contents', () => {
    expect(() => parseBundle(bundleText({ files: { 'a.pem': 'x' } }))).toThrow('must contain "config.yaml"');
    expect(() => parseBundle(bundleText({}, { 'a.pem': 5 }))).toThrow('files["a.pem"] must be a string');
  });

  it('refuses file names that would leave /etc/relaykit', () => {
    for (const bad of [
      '../etc/shadow',
      '/etc/passwd',
      'tls/../../x',
      '.bundle',
      'a//b',
      'a/./b',
      '',
      'a b',
    ]) {
      expect(() => checkFilePath(bad), bad).toThrow(BundleError);
    }
    expect(checkFilePath('tls/relay.crt')).toBe('tls/relay.crt');
  });
});

describe('installBundle', () => {
  it('writes every file 0600 for the service user, links var/ to the state dir and records the digest', () => {
    const root = tempDir();
    const dir = join(root, 'etc-relaykit');
    const bundle = parseBundle(bundleText({}, { 'tls/relay.key': 'secret-key' }));
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    installBundle(bundle, { dir, uid, gid, stateDir: join(root, 'state') });

    expect(readFileSync(join(dir, 'config.yaml'), 'utf8')).toBe(CONFIG);
    expect(readFileSync(join(dir, 'tls/relay.key'), 'utf8')).toBe('secret-key');
    for (const f of ['config.yaml', 'appliance-identity.pem', 'tls/relay.key']) {
      expect(statSync(join(dir, f)).mode & 0o777, f).toBe(0o600);
    }
    expect(statSync(dir).mode & 0o777).toBe(0o750);
    expect(lstatSync(join(dir, 'var')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'var'))).toBe(join(root, 'state'));
    expect(installedDigest(dir)).toBe(bundle.digest);
  });

  it('replaces the files of an earlier bundle', () => {
    const root = tempDir();
    const dir = join(root, 'etc');
    const target = { dir, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, stateDir: root };
    installBundle(parseBundle(bundleText()), target);
    const second = parseBundle(bundleText({ site: 'branch' }, { 'config.yaml': 'listeners: []\n' }));
    installBundle(second, target);
    expect(readFileSync(join(dir, 'config.yaml'), 'utf8')).toBe('listeners: []\n');
    expect(installedDigest(dir)).toBe(second.digest);
  });

  it('reports no digest when nothing is installed', () => {
    expect(installedDigest(tempDir())).toBeUndefined();
  });
});

describe('containerBundleConfig', () => {
  it('installs the mounted bundle on the volume, owned by the running user, and returns its config', () => {
    const state = tempDir();
    const file = join(tempDir(), 'relaykit-bundle.json');
    writeFileSync(file, bundleText());
    const config = containerBundleConfig({ RELAYKIT_BUNDLE: file, RELAYKIT_STATE_DIR: state });
    expect(config).toBe(join(state, 'bundle', 'config.yaml'));
    expect(readFileSync(join(state, 'bundle', 'config.yaml'), 'utf8')).toBe(CONFIG);
    expect(statSync(join(state, 'bundle', 'appliance-identity.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(state, 'bundle')).uid).toBe(process.getuid?.());
    // The bundle's relative var/spool lands in the state directory, not beside the read-only mount.
    expect(readlinkSync(join(state, 'bundle', 'var'))).toBe(state);
  });

  it('leaves an installed bundle alone until the mounted one changes', () => {
    const state = tempDir();
    const file = join(tempDir(), 'relaykit-bundle.json');
    writeFileSync(file, bundleText());
    containerBundleConfig({ RELAYKIT_BUNDLE: file, RELAYKIT_STATE_DIR: state });
    writeFileSync(join(state, 'bundle', 'config.yaml'), 'edited\n');
    containerBundleConfig({ RELAYKIT_BUNDLE: file, RELAYKIT_STATE_DIR: state });
    expect(readFileSync(join(state, 'bundle', 'config.yaml'), 'utf8')).toBe('edited\n');
    writeFileSync(file, bundleText({ site: 'branch' }));
    containerBundleConfig({ RELAYKIT_BUNDLE: file, RELAYKIT_STATE_DIR: state });
    expect(readFileSync(join(state, 'bundle', 'config.yaml'), 'utf8')).toBe(CONFIG);
  });

  it('does nothing without a bundle file, and names the file when the bundle is bad', () => {
    const state = tempDir();
    expect(containerBundleConfig({ RELAYKIT_STATE_DIR: state })).toBeUndefined();
    expect(containerBundleConfig({ RELAYKIT_BUNDLE: join(state, 'absent.json') })).toBeUndefined();
    const file = join(tempDir(), 'relaykit-bundle.json');
    writeFileSync(file, bundleText({ version: 2 }));
    expect(() => containerBundleConfig({ RELAYKIT_BUNDLE: file, RELAYKIT_STATE_DIR: state })).toThrow(
      'relaykit-bundle.json: version 2 is not supported',
    );
  });
});

describe('consoleFacts', () => {
  it('reads the listener ports and a loopback address for /healthz', () => {
    expect(consoleFacts(CONFIG)).toEqual({ smtpPorts: [25], httpAddress: '127.0.0.1', httpPort: 8026 });
  });

  it('names the admin listener (the console reads its certificate there); a wildcard means loopback', () => {
    const f = consoleFacts('listeners:\n  - port: 25\nadmin:\n  listener:\n    address: 0.0.0.0\n');
    expect(f.admin).toEqual({ address: '127.0.0.1', port: 8443 });
    expect(consoleEnv(f)).toBe(
      'SMTP_PORTS="25"\nHTTP_ADDRESS=127.0.0.1\nHTTP_PORT=8025\nADMIN_ADDRESS=127.0.0.1\nADMIN_PORT=8443\n',
    );
    expect(consoleFacts('admin:\n  listener:\n    address: 192.0.2.7\n    port: 9443\n').admin).toEqual({
      address: '192.0.2.7',
      port: 9443,
    });
    expect(consoleEnv(consoleFacts('listeners:\n  - port: 2525\n'))).not.toContain('ADMIN');
  });

  it('falls back to the schema defaults for http', () => {
    expect(consoleFacts('listeners:\n  - port: 2525\n  - port: 587\n')).toEqual({
      smtpPorts: [2525, 587],
      httpAddress: '127.0.0.1',
      httpPort: 8025,
    });
  });
});

describe('findSeedDevice (udev /dev/disk/by-label links)', () => {
  /** A by-label directory and a clock that moves only when firstboot sleeps. */
  function fakeUdev() {
    const byLabel = tempDir();
    const devices = tempDir();
    let t = 0;
    const sleeps: number[] = [];
    return {
      byLabel,
      addLink(label: string, device: string) {
        writeFileSync(join(devices, device), '');
        symlinkSync(join(devices, device), join(byLabel, label));
      },
      device: (name: string) => join(devices, name),
      opts: {
        byLabel,
        optical: () => undefined,
        now: () => t,
        sleep: (ms: number) => {
          sleeps.push(ms);
          t += ms;
        },
      },
      sleeps,
    };
  }

  it('finds a cidata or CIDATA volume by its link at once, without waiting', () => {
    const u = fakeUdev();
    u.addLink('CIDATA', 'sr0');
    expect(findSeedDevice(20_000, u.opts)).toBe(u.device('sr0'));
    expect(u.sleeps).toEqual([]);
  });

  it('waits for udev in 250 ms steps until the link appears', () => {
    const u = fakeUdev();
    let rounds = 0;
    const opts = {
      ...u.opts,
      sleep: (ms: number) => {
        u.opts.sleep(ms);
        if (++rounds === 3) u.addLink('cidata', 'sr1');
      },
    };
    expect(findSeedDevice(20_000, opts)).toBe(u.device('sr1'));
    expect(u.sleeps).toEqual([250, 250, 250]);
  });

  it('gives up after the wait (2 s on a provisioned appliance) without asking blkid', () => {
    const u = fakeUdev();
    expect(findSeedDevice(2000, u.opts)).toBeUndefined();
    expect(u.sleeps.reduce((a, b) => a + b, 0)).toBe(2000);
  });
});

/** An ISO 9660 primary volume descriptor by hand (ECMA-119 8.4): type 1, "CD001", version 1, volume id at 40. */
function pvd(volumeId: string): Buffer {
  const sector = Buffer.alloc(2048);
  sector[0] = 1;
  sector.write('CD001', 1, 'latin1');
  sector[6] = 1;
  sector.write('LINUX'.padEnd(32, ' '), 8, 'latin1');
  sector.write(volumeId.padEnd(32, ' '), 40, 'latin1');
  return sector;
}

describe('the seed CD-ROM by its ISO 9660 volume descriptor (no udev)', () => {
  it('reads the volume identifier of a primary volume descriptor, and nothing else', () => {
    expect(iso9660VolumeId(pvd('cidata'))).toBe('cidata');
    expect(iso9660VolumeId(pvd('RKUPGRADE'))).toBe('RKUPGRADE');
    const supplementary = pvd('cidata');
    supplementary[0] = 2; // Joliet's supplementary descriptor, not the primary one
    expect(iso9660VolumeId(supplementary)).toBeUndefined();
    expect(iso9660VolumeId(Buffer.alloc(2048))).toBeUndefined();
  });

  /** /sys/block with the given drives, and /dev files holding what each drive reads. */
  function fakeDrives(drives: Record<string, Buffer | undefined>) {
    const sysBlock = tempDir();
    const dev = tempDir();
    for (const [name, content] of Object.entries(drives)) {
      mkdirSync(join(sysBlock, name));
      // A drive without medium has no readable device here (ENOENT stands in for ENOMEDIUM).
      if (content) writeFileSync(join(dev, name), content);
    }
    return { sysBlock, dev };
  }
  const iso = (id: string) => Buffer.concat([Buffer.alloc(16 * 2048), pvd(id)]);

  it('finds the drive whose disc is labelled cidata, skipping empty drives and other discs', () => {
    const d = fakeDrives({ sr0: undefined, sr1: iso('RKUPGRADE'), sr2: iso('CIDATA'), vda: iso('cidata') });
    expect(findSeedOptical(d)).toBe(join(d.dev, 'sr2'));
  });

  it('skips a disc too short to hold a volume descriptor, and finds nothing without a seed', () => {
    expect(findSeedOptical(fakeDrives({ sr0: Buffer.alloc(4096), vda: iso('cidata') }))).toBeUndefined();
    expect(findSeedOptical({ sysBlock: join(tempDir(), 'missing') })).toBeUndefined();
  });

  it('findSeedDevice takes the drive at once when udev has made no link yet', () => {
    const sleeps: number[] = [];
    const opts = { byLabel: tempDir(), optical: () => '/dev/sr0', sleep: (ms: number) => sleeps.push(ms) };
    expect(findSeedDevice(20_000, opts)).toBe('/dev/sr0');
    expect(sleeps).toEqual([]);
  });
});

// /proc/self/mountinfo lines as the kernel writes them (proc(5)): field 5 is the mount point.
const MOUNTINFO_ROOT =
  '24 1 254:2 / / rw,noatime shared:1 - ext4 /dev/vda2 rw,errors=remount-ro\n' +
  '25 24 0:22 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,mode=755\n';
const MOUNTINFO_DATA = `${MOUNTINFO_ROOT}31 24 254:4 / /var/lib/relaykit rw,nosuid,nodev,noatime shared:9 - ext4 /dev/vda4 rw\n`;

describe('waitForMount (relaykit-firstboot starts before the data partition is mounted)', () => {
  it('reads the mount point field, not a prefix or another field', () => {
    expect(isMountPoint('/var/lib/relaykit', MOUNTINFO_DATA)).toBe(true);
    expect(isMountPoint('/var/lib/relaykit', MOUNTINFO_ROOT)).toBe(false);
    expect(isMountPoint('/var/lib', MOUNTINFO_DATA)).toBe(false);
    expect(isMountPoint('/dev/vda4', MOUNTINFO_DATA)).toBe(false);
  });

  it('waits in 100 ms steps until the mount appears, then returns at once', () => {
    let t = 0;
    const sleeps: number[] = [];
    const seen = [MOUNTINFO_ROOT, MOUNTINFO_ROOT, MOUNTINFO_ROOT, MOUNTINFO_DATA];
    const ok = waitForMount('/var/lib/relaykit', 60_000, {
      mountinfo: () => seen[Math.min(sleeps.length, seen.length - 1)] ?? '',
      now: () => t,
      sleep: (ms) => {
        sleeps.push(ms);
        t += ms;
      },
    });
    expect(ok).toBe(true);
    expect(sleeps).toEqual([100, 100, 100]);
  });

  it('gives up after its limit when the partition never comes', () => {
    let t = 0;
    const ok = waitForMount('/var/lib/relaykit', 1000, {
      mountinfo: () => MOUNTINFO_ROOT,
      now: () => t,
      sleep: (ms) => {
        t += ms;
      },
    });
    expect(ok).toBe(false);
    expect(t).toBe(1000);
  });
});

describe('userIds', () => {
  it('reads uid and gid from passwd lines', () => {
    const passwd =
      'root:x:0:0:root:/root:/bin/bash\nrelaykit:x:10025:10025::/var/lib/relaykit:/usr/sbin/nologin\n';
    expect(userIds('relaykit', passwd)).toEqual({ uid: 10025, gid: 10025 });
    expect(() => userIds('nobody-here', passwd)).toThrow('no user nobody-here in /etc/passwd');
  });
});

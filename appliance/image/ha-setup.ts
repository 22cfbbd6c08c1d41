// The VM's edge-pair step of first boot (firstboot-entry.ts, every boot, as root): when the installed
// config has `ha:`, renders /etc/keepalived/keepalived.conf from it (ops/keepalived-conf.ts) and
// enables keepalived; without `ha:` it removes a file it rendered earlier and disables keepalived
// again. Off by default: the image ships keepalived disabled, with no config, so nothing listens.
// May touch: /etc/keepalived/keepalived.conf and keepalived.service (through systemctl).
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { type ConfigError, parseConfigText } from '../src/config/load.ts';
import { KEEPALIVED_HEADER, renderKeepalivedConf } from '../src/ops/keepalived-conf.ts';
import { KEEPALIVED_CONF } from './ha-gate.ts';

/** Installed by the image (vm/overlay); keepalived runs it as `nobody`. */
export const READYZ_PROBE = '/usr/local/lib/relaykit/readyz-probe';

export type HaPlan =
  | { readonly kind: 'on'; readonly conf: string }
  | { readonly kind: 'off' }
  | { readonly kind: 'invalid'; readonly message: string };

/** What the config asks for: pure, so tests call it with config text. */
export function planHa(configText: string, source: string): HaPlan {
  let config: ReturnType<typeof parseConfigText>;
  try {
    config = parseConfigText(configText, source, dirname(source));
  } catch (err) {
    return { kind: 'invalid', message: (err as ConfigError).message };
  }
  if (config.ha === undefined) return { kind: 'off' };
  const conf = renderKeepalivedConf({
    ha: config.ha,
    http: config.http,
    probe: READYZ_PROBE,
    scriptUser: 'nobody',
    routerName: config.appliance.hostname,
    source,
  });
  return { kind: 'on', conf };
}

export interface HaHost {
  readFile(path: string): string | undefined;
  /** Writes durably (temporary name, fsync, rename), root-only (0600). */
  writeFile(path: string, text: string): void;
  removeFile(path: string): void;
  systemctl(args: readonly string[]): void;
  log(line: string): void;
}

/**
 * Carries a plan out. An invalid config turns the pair off: the relay will not start on it either,
 * and a node that holds the address without a relay behind it is worse than no node.
 */
export function applyHa(plan: HaPlan, host: HaHost, path = KEEPALIVED_CONF): void {
  const current = host.readFile(path);
  if (plan.kind === 'on') {
    if (current !== plan.conf) host.writeFile(path, plan.conf);
    host.systemctl(['enable', 'keepalived.service']);
    // --no-block: keepalived is ordered after this unit, which is still running.
    host.systemctl(['start', '--no-block', 'keepalived.service']);
    host.log(
      `relaykit-firstboot: ha: keepalived enabled with ${path}${current === plan.conf ? ' (unchanged)' : ''}`,
    );
    return;
  }
  if (plan.kind === 'invalid') host.log(`relaykit-firstboot: ha: keepalived left off, ${plan.message}`);
  // Only a file this step wrote is removed; keepalived stays off without one (ConditionFileNotEmpty).
  if (current?.startsWith(KEEPALIVED_HEADER)) {
    host.removeFile(path);
    host.systemctl(['disable', '--now', '--no-block', 'keepalived.service']);
    host.log('relaykit-firstboot: ha: no ha section any more; keepalived disabled and its config removed');
  }
}

/** First boot's call: reads the installed config and applies the plan; a failure is only reported. */
export function configureHa(configPath: string, host: HaHost = systemHost): void {
  try {
    applyHa(planHa(readFileSync(configPath, 'utf8'), configPath), host);
  } catch (err) {
    host.log(`relaykit-firstboot: ha: keepalived not configured: ${(err as Error).message}`);
  }
}

/** The real host: files under /etc and systemctl. */
const systemHost: HaHost = {
  readFile: (path) => (existsSync(path) ? readFileSync(path, 'utf8') : undefined),
  writeFile: (path, text) => {
    const tmp = `${path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  },
  removeFile: (path) => rmSync(path, { force: true }),
  systemctl: (args) => {
    execFileSync('systemctl', [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  },
  log: (line) => console.log(line),
};

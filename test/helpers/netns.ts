// A small LAN of network namespaces for tests that need real addresses moving between machines (the
// VRRP edge pair): one namespace per host, each with a veth `lan0` plugged into a bridge that lives
// in a namespace of its own, so nothing is added to the machine's own network. Needs root and
// iproute2. Names carry the test's pid so parallel runs do not collide; destroy() removes them all.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

function ip(args: readonly string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
}

/** Why this machine cannot build the LAN, or undefined when it can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (!existsSync('/usr/sbin/ip') && !existsSync('/usr/bin/ip') && !existsSync('/sbin/ip')) {
    return 'iproute2 is not installed (apt-get install iproute2)';
  }
  return undefined;
}

export class NetnsLan {
  readonly hosts = new Map<string, string>();
  private readonly bridgeNs: string;
  private readonly prefix: string;

  constructor(tag: string) {
    this.prefix = `rk${tag}${process.pid}`;
    this.bridgeNs = `${this.prefix}-lan`;
  }

  /** Creates the bridge namespace; call before adding hosts. */
  create(): void {
    ip(['netns', 'add', this.bridgeNs]);
    ip(['-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', this.bridgeNs, 'link', 'set', 'br0', 'up']);
  }

  /** A host namespace named `name` with lan0 = address/prefix on the bridge; returns its netns name. */
  addHost(name: string, cidr: string): string {
    const ns = `${this.prefix}-${name}`;
    const port = `p${this.hosts.size}`;
    ip(['netns', 'add', ns]);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['link', 'add', 'lan0', 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', this.bridgeNs]);
    ip(['-n', this.bridgeNs, 'link', 'set', port, 'master', 'br0', 'up']);
    ip(['-n', ns, 'addr', 'add', cidr, 'dev', 'lan0']);
    ip(['-n', ns, 'link', 'set', 'lan0', 'up']);
    this.hosts.set(name, ns);
    return ns;
  }

  ns(name: string): string {
    const ns = this.hosts.get(name);
    if (ns === undefined) throw new Error(`no host ${name} on this LAN`);
    return ns;
  }

  /** argv prefix that runs a command inside host `name`. */
  exec(name: string): string[] {
    return ['ip', 'netns', 'exec', this.ns(name)];
  }

  /** The IPv4 addresses on host `name`'s lan0, without prefix lengths. */
  async addresses(name: string): Promise<string[]> {
    const { stdout } = await run('ip', ['-n', this.ns(name), '-4', '-o', 'addr', 'show', 'dev', 'lan0']);
    return [...stdout.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1] as string);
  }

  destroy(): void {
    for (const ns of [...this.hosts.values(), this.bridgeNs]) {
      spawnSync('ip', ['netns', 'del', ns]);
    }
    this.hosts.clear();
  }
}

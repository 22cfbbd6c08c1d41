// Who may send: maps a connection to a named device identity by source network (IPv4/IPv6 CIDR),
// or an SMTP AUTH login to one. Pure lookups over the frozen config; no I/O but scrypt.
import { BlockList, isIP } from 'node:net';
import type { Config, IdentityConfig } from '../config/schema.ts';
import { DUMMY_HASH, verifyPassword } from './password.ts';

/** "::ffff:10.1.2.3" → "10.1.2.3": dual-stack sockets report IPv4 clients as mapped addresses. */
export function normalizeIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m ? (m[1] as string) : ip;
}

function addRange(list: BlockList, range: string): void {
  const [addr, bits] = range.split('/') as [string, string | undefined];
  const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
  if (bits === undefined) list.addAddress(addr, family);
  else list.addSubnet(addr, Number(bits), family);
}

interface CompiledIdentity {
  readonly identity: IdentityConfig;
  readonly networks: BlockList;
}

export class AccessMap {
  private readonly compiled: readonly CompiledIdentity[];
  private readonly users = new Map<string, { identity: IdentityConfig; passwordHash: string }>();

  constructor(config: Pick<Config, 'identities'>) {
    this.compiled = config.identities.map((identity) => {
      const networks = new BlockList();
      for (const n of identity.networks) addRange(networks, n);
      return { identity, networks };
    });
    for (const identity of config.identities) {
      for (const u of identity.users) this.users.set(u.username, { identity, passwordHash: u.passwordHash });
    }
  }

  /** First identity (config order) whose networks contain the address. */
  byAddress(ip: string): IdentityConfig | undefined {
    const addr = normalizeIp(ip);
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (isIP(addr) === 0) return undefined;
    return this.compiled.find((c) => c.networks.check(addr, family))?.identity;
  }

  /** The identity of a valid login, or undefined. Always costs one scrypt, known user or not. */
  async byLogin(username: string, password: string): Promise<IdentityConfig | undefined> {
    const user = this.users.get(username);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    return ok && user ? user.identity : undefined;
  }

  get hasUsers(): boolean {
    return this.users.size > 0;
  }
}

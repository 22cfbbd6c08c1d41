// Who may send: maps a connection to a named device identity by source network (IPv4/IPv6 CIDR),
// a verified client certificate (subject, subjectAltName or SHA-256 fingerprint), or an SMTP AUTH
// login. Pure lookups over the frozen config; no I/O but scrypt.
import type { CertificateMatch } from '../config/identity.ts';
import { firstContaining, type ParsedCidr, parseCidr, parseIp } from '../config/networks.ts';
import type { Config, IdentityConfig } from '../config/schema.ts';
import { DUMMY_HASH, verifyPassword } from './password.ts';

interface CompiledIdentity {
  readonly identity: IdentityConfig;
  readonly networks: readonly ParsedCidr[];
}

export class AccessMap {
  private readonly compiled: readonly CompiledIdentity[];
  private readonly users = new Map<string, { identity: IdentityConfig; passwordHash: string }>();

  constructor(config: Pick<Config, 'identities'>) {
    this.compiled = config.identities.map((identity) => {
      // Validated by the config schema (config/networks.ts), so every range parses.
      const networks = identity.networks.flatMap((n) => parseCidr(n) ?? []);
      return { identity, networks };
    });
    for (const identity of config.identities) {
      for (const u of identity.users) this.users.set(u.username, { identity, passwordHash: u.passwordHash });
    }
  }

  /** First identity (config order) whose networks contain the address. */
  byAddress(ip: string): IdentityConfig | undefined {
    const addr = parseIp(ip);
    if (addr === undefined) return undefined;
    return this.compiled.find((c) => firstContaining(c.networks, addr) !== undefined)?.identity;
  }

  /** The identity of a valid login, or undefined. Always costs one scrypt, known user or not. */
  async byLogin(username: string, password: string): Promise<IdentityConfig | undefined> {
    const user = this.users.get(username);
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    return ok && user ? user.identity : undefined;
  }

  /**
   * The identity a client certificate maps to. The caller must pass only certificates that verified
   * against the listener's CA bundle (`socket.authorized`); a CN alone proves nothing.
   */
  byCertificate(cert: PeerCertificateFacts): IdentityConfig | undefined {
    return this.compiled.find((c) => c.identity.certificates.some((m) => certificateMatches(m, cert)))
      ?.identity;
  }

  get hasCertificates(): boolean {
    return this.compiled.some((c) => c.identity.certificates.length > 0);
  }

  get hasUsers(): boolean {
    return this.users.size > 0;
  }
}

/** What the receiver copies from a verified peer certificate. */
export interface PeerCertificateFacts {
  readonly subjectCN?: string;
  /** Node's `subjectaltname`: "DNS:a.example, email:b@example, IP Address:10.0.0.1". */
  readonly subjectAltName?: string;
  /** "AB:CD:…" SHA-256. */
  readonly fingerprint256?: string;
}

export function certificateMatches(m: CertificateMatch, cert: PeerCertificateFacts): boolean {
  if (m.subject !== undefined && m.subject.toLowerCase() !== cert.subjectCN?.toLowerCase()) return false;
  if (m.fingerprint !== undefined && m.fingerprint !== cert.fingerprint256?.toUpperCase()) return false;
  if (m.san !== undefined) {
    const want = m.san.toLowerCase();
    const entries = (cert.subjectAltName ?? '')
      .split(/,\s*/)
      .map((e) => e.trim().toLowerCase())
      .filter((e) => e.length > 0);
    const ok = entries.some((e) => e === want || e.slice(e.indexOf(':') + 1) === want);
    if (!ok) return false;
  }
  return true;
}

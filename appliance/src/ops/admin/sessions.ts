// Who is calling the admin surface: sessions (in memory, random ids, idle and absolute expiry, a CSRF
// token each), password login against the config's local users (scrypt hashes as for SMTP AUTH, the
// same constant-time verify and the same per-address lockout), and the monitoring bearer token.
// A restart ends every session; that only means logging in again.
import type { AdminRole, AdminUser } from '../../config/admin.ts';
import { AuthFailureTracker, delay } from '../../receiver/abuse.ts';
import { DUMMY_HASH, verifyPassword } from '../../receiver/password.ts';
import { HttpError } from './guard.ts';
import { randomToken, safeEqual } from './secret.ts';

export interface Session {
  readonly id: string;
  readonly user: string;
  readonly role: AdminRole;
  /** Sent by the page in X-CSRF-Token with every state change. */
  readonly csrf: string;
  readonly createdAt: number;
  lastSeenAt: number;
}

export interface SessionOptions {
  readonly idleMs: number;
  readonly maxAgeMs: number;
  readonly now: () => number;
  /** Oldest sessions are dropped beyond this many (a login flood cannot grow memory). */
  readonly max?: number;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly opts: SessionOptions;

  constructor(opts: SessionOptions) {
    this.opts = opts;
  }

  create(user: string, role: AdminRole): Session {
    const t = this.opts.now();
    const max = this.opts.max ?? 1000;
    for (const id of this.sessions.keys()) {
      if (this.sessions.size < max) break;
      this.sessions.delete(id);
    }
    const s: Session = { id: randomToken(), user, role, csrf: randomToken(), createdAt: t, lastSeenAt: t };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session with this id (and marks it used), or undefined when unknown or expired. */
  get(id: string | undefined): Session | undefined {
    if (id === undefined) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    const t = this.opts.now();
    if (t - s.lastSeenAt >= this.opts.idleMs || t - s.createdAt >= this.opts.maxAgeMs) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeenAt = t;
    return s;
  }

  end(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }
}

export interface LoginOptions {
  readonly limit: number;
  readonly windowMs: number;
  readonly blockMs: number;
  readonly delayMs: number;
  readonly now: () => number;
}

export class PasswordLogin {
  private readonly users: ReadonlyMap<string, AdminUser>;
  private readonly failures: AuthFailureTracker;
  private readonly opts: LoginOptions;

  constructor(users: readonly AdminUser[], opts: LoginOptions) {
    this.users = new Map(users.map((u) => [u.username.toLowerCase(), u]));
    this.failures = new AuthFailureTracker(
      { limit: opts.limit, windowMs: opts.windowMs, blockMs: opts.blockMs },
      opts.now,
    );
    this.opts = opts;
  }

  /** The user when the password is right; HttpError 401 (wrong) or 429 (address blocked) otherwise. */
  async verify(username: unknown, password: unknown, address: string): Promise<AdminUser> {
    this.refuseIfBlocked(address);
    const user = typeof username === 'string' ? this.users.get(username.toLowerCase()) : undefined;
    // Verify against a dummy hash for unknown users so timing does not reveal which names exist.
    const ok =
      (await verifyPassword(
        typeof password === 'string' ? password : '',
        user?.passwordHash ?? DUMMY_HASH,
      )) && user !== undefined;
    if (ok) return user;
    const blocked = this.failures.fail(address);
    await delay(this.opts.delayMs);
    if (blocked) this.refuseIfBlocked(address);
    throw new HttpError(401, 'wrong user name or password');
  }

  private refuseIfBlocked(address: string): void {
    const until = this.failures.blockedUntil(address);
    if (until === undefined) return;
    const seconds = Math.ceil((until - this.opts.now()) / 1000);
    throw new HttpError(
      429,
      `too many failed logins from this address; try again in ${Math.ceil(seconds / 60)} min`,
      { 'retry-after': String(seconds) },
    );
  }
}

/** Checks `Authorization: Bearer …` against the monitoring token (constant time). */
export function bearerMatches(header: string | undefined, token: string | undefined): boolean {
  if (header === undefined || token === undefined || token === '') return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m !== null && safeEqual(m[1] as string, token);
}

/** Value of one cookie in a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Set-Cookie for a session: HttpOnly, SameSite=Strict, Secure over TLS (then the __Host- prefix). */
export function sessionCookie(name: string, value: string, secure: boolean, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

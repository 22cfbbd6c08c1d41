// Who is calling the admin surface: sessions (random tokens, idle and absolute expiry, a CSRF token
// each; kept by the SHA-256 of the token, and across restarts in a state file when one is given),
// password login against the config's local users (scrypt hashes as for SMTP AUTH, the same
// constant-time verify and the same per-address lockout, kept across restarts too), and the
// monitoring bearer token.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AdminRole, AdminUser } from '../../config/admin.ts';
import type { JsonStateFile } from '../../fsio.ts';
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
  readonly lastSeenAt: number;
}

export interface SessionOptions {
  readonly idleMs: number;
  readonly maxAgeMs: number;
  readonly now: () => number;
  /** Oldest sessions are dropped beyond this many (a login flood cannot grow memory). */
  readonly max?: number;
  /** Sessions kept across restarts (`<spool>/state/admin-sessions.json`); memory only without. */
  readonly file?: JsonStateFile<SavedSessions>;
}

/** A session as the state file keeps it: the SHA-256 of its token, never the token itself. */
export interface SavedSession {
  readonly tokenSha256: string;
  readonly user: string;
  readonly role: AdminRole;
  readonly csrf: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
}

export interface SavedSessions {
  readonly version: 1;
  readonly sessions: readonly SavedSession[];
}

const savedSessionsSchema = z.object({
  version: z.literal(1),
  sessions: z
    .array(
      z.object({
        tokenSha256: z.string().regex(/^[0-9a-f]{64}$/),
        user: z.string(),
        role: z.enum(['viewer', 'admin']),
        csrf: z.string(),
        createdAt: z.number(),
        lastSeenAt: z.number(),
      }),
    )
    .max(10_000),
});

/** Reads the saved sessions; a missing or corrupt file (one warning, from the file) means none. */
export async function loadSessions(file: JsonStateFile<SavedSessions>): Promise<SavedSession[]> {
  return [...((await file.load((raw) => savedSessionsSchema.parse(raw)))?.sessions ?? [])];
}

const sha256 = (token: string): string => createHash('sha256').update(token).digest('hex');

/** Last use is saved at most this often per session (idle expiry after a restart errs early by it). */
const LAST_SEEN_SAVE_MS = 60_000;

interface SessionRecord {
  readonly user: string;
  readonly role: AdminRole;
  readonly csrf: string;
  readonly createdAt: number;
  lastSeenAt: number;
  savedLastSeenAt: number;
}

export class SessionStore {
  /** By SHA-256 of the token: a lookup never needs, and the file never holds, the token itself. */
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly opts: SessionOptions;

  constructor(opts: SessionOptions, saved: readonly SavedSession[] = []) {
    this.opts = opts;
    const t = opts.now();
    for (const s of saved) {
      if (this.expired(s, t)) continue;
      this.sessions.set(s.tokenSha256, { ...s, savedLastSeenAt: s.lastSeenAt });
    }
  }

  create(user: string, role: AdminRole): Session {
    const t = this.opts.now();
    const max = this.opts.max ?? 1000;
    for (const key of this.sessions.keys()) {
      if (this.sessions.size < max) break;
      this.sessions.delete(key);
    }
    const id = randomToken();
    const r: SessionRecord = {
      user,
      role,
      csrf: randomToken(),
      createdAt: t,
      lastSeenAt: t,
      savedLastSeenAt: t,
    };
    this.sessions.set(sha256(id), r);
    this.save();
    return this.session(id, r);
  }

  /** The live session with this id (and marks it used), or undefined when unknown or expired. */
  get(id: string | undefined): Session | undefined {
    if (id === undefined) return undefined;
    const key = sha256(id);
    const r = this.sessions.get(key);
    if (!r) return undefined;
    const t = this.opts.now();
    if (this.expired(r, t)) {
      this.sessions.delete(key);
      this.save();
      return undefined;
    }
    r.lastSeenAt = t;
    if (t - r.savedLastSeenAt >= LAST_SEEN_SAVE_MS) this.save();
    return this.session(id, r);
  }

  end(id: string): void {
    if (this.sessions.delete(sha256(id))) this.save();
  }

  get size(): number {
    return this.sessions.size;
  }

  private expired(s: { createdAt: number; lastSeenAt: number }, t: number): boolean {
    return t - s.lastSeenAt >= this.opts.idleMs || t - s.createdAt >= this.opts.maxAgeMs;
  }

  private session(id: string, r: SessionRecord): Session {
    const store = this;
    return {
      id,
      user: r.user,
      role: r.role,
      csrf: r.csrf,
      createdAt: r.createdAt,
      get lastSeenAt() {
        return store.sessions.get(sha256(id))?.lastSeenAt ?? r.lastSeenAt;
      },
    };
  }

  private save(): void {
    const file = this.opts.file;
    if (!file) return;
    file.save(() => {
      const sessions: SavedSession[] = [];
      for (const [tokenSha256, r] of this.sessions) {
        r.savedLastSeenAt = r.lastSeenAt;
        sessions.push({
          tokenSha256,
          user: r.user,
          role: r.role,
          csrf: r.csrf,
          createdAt: r.createdAt,
          lastSeenAt: r.lastSeenAt,
        });
      }
      return { version: 1, sessions };
    });
  }
}

export interface LoginOptions {
  readonly limit: number;
  readonly windowMs: number;
  readonly blockMs: number;
  readonly delayMs: number;
  readonly now: () => number;
  /** The lockout tracker (kept across restarts by LockoutState); a memory-only one without. */
  readonly failures?: AuthFailureTracker;
}

export class PasswordLogin {
  private readonly users: ReadonlyMap<string, AdminUser>;
  private readonly failures: AuthFailureTracker;
  private readonly opts: LoginOptions;

  constructor(users: readonly AdminUser[], opts: LoginOptions) {
    this.users = new Map(users.map((u) => [u.username.toLowerCase(), u]));
    this.failures =
      opts.failures ??
      new AuthFailureTracker({ limit: opts.limit, windowMs: opts.windowMs, blockMs: opts.blockMs }, opts.now);
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

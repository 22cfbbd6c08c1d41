// Config of the operator surface (issue 14): which Host names the status port and the admin listener
// answer to, the opt-in off-loopback admin listener (TLS only), its local users and roles, sessions,
// login lockout and the monitoring bearer token. schema.ts imports `adminSchema`; ops/admin/ reads it.
import { z } from 'zod';
import { duration, ipAddress, name, port } from './fields.ts';

export const ADMIN_ROLES = ['viewer', 'admin'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

const hostname = z
  .string()
  .regex(
    /^(?=.{1,253}$)([a-z0-9-]{1,63}\.)*[a-z0-9-]{1,63}$/i,
    'must be a host name such as relay.contoso.lan (no port, no scheme)',
  )
  .transform((s) => s.toLowerCase());

export const adminUserSchema = z.strictObject({
  username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'use 1-64 letters, digits, ".", "_", "@" or "-"'),
  /** scrypt hash from `relaykit-appliance hash-password` (the same format as SMTP AUTH users). */
  passwordHash: z.string().regex(/^scrypt\$/, 'must be a hash made by `relaykit-appliance hash-password`'),
  /** viewer: sees the page and the read-only API; admin: also retries, deletes, requeues, tests. */
  role: z.enum(ADMIN_ROLES).default('viewer'),
});

const adminTlsSchema = z
  .strictObject({
    /** PEM certificate chain for the admin listener. With `key`; without both, one is generated. */
    cert: z.string().optional(),
    /** PEM private key matching `cert`. */
    key: z.string().optional(),
    /**
     * Where a generated self-signed pair is kept (so its fingerprint stays the same across restarts).
     * Its SHA-256 fingerprint is printed at start and by `check`.
     */
    directory: z.string().default('var/admin-tls'),
  })
  .superRefine((tls, ctx) => {
    if ((tls.cert === undefined) !== (tls.key === undefined)) {
      ctx.issues.push({
        code: 'custom',
        path: [tls.cert === undefined ? 'cert' : 'key'],
        message: 'give both cert and key, or neither (a self-signed pair is generated)',
        input: tls,
      });
    }
  })
  .prefault({});

export const adminListenerSchema = z.strictObject({
  /** LAN address the admin page and API listen on (TLS and login only). */
  address: ipAddress,
  port: port.default(8443),
  tls: adminTlsSchema,
});

export const adminSchema = z
  .strictObject({
    /**
     * Host names (besides loopback names and IP literals) the status port and the admin listener
     * answer to; any other Host gets 421 (DNS-rebinding defence, like Transmission's
     * rpc-host-whitelist). appliance.hostname is always accepted.
     */
    hostnames: z.array(hostname).default([]),
    /** Opt-in off-loopback listener; absent: the page and API exist only on the loopback status port. */
    listener: adminListenerSchema.optional(),
    /** Local users of the admin listener. */
    users: z.array(adminUserSchema).default([]),
    session: z
      .strictObject({
        /** A session unused this long ends. */
        idleTimeout: duration.default(30 * 60_000),
        /** A session ends this long after login however busy. */
        maxAge: duration.default(12 * 3_600_000),
      })
      .prefault({}),
    loginFailures: z
      .strictObject({
        /** Failed logins per source address before it is blocked (as SMTP AUTH). */
        limit: z.number().int().min(1).max(1000).default(5),
        /** Failures older than this are forgotten. */
        window: duration.default(15 * 60_000),
        /** How long a blocked address is refused. */
        block: duration.default(15 * 60_000),
        /** Delay before a failed login is answered. */
        delay: duration.default(1000),
      })
      .prefault({}),
    /**
     * Credential name (config `credentials:`) holding the bearer token that reads /metrics, /status,
     * /healthz and /readyz on the admin listener (Prometheus, RMM checks). Read-only; nothing else.
     */
    monitoringToken: name.optional(),
  })
  .superRefine((admin, ctx) => {
    if (admin.listener && admin.users.length === 0 && admin.monitoringToken === undefined) {
      ctx.issues.push({
        code: 'custom',
        path: ['users'],
        message: 'the admin listener needs at least one user (or a monitoringToken) to be of any use',
        input: admin.users,
      });
    }
    const seen = new Set<string>();
    admin.users.forEach((u, i) => {
      if (seen.has(u.username.toLowerCase())) {
        ctx.issues.push({
          code: 'custom',
          path: ['users', i, 'username'],
          message: `duplicate user "${u.username}"`,
          input: u.username,
        });
      }
      seen.add(u.username.toLowerCase());
    });
  })
  .prefault({});

export type AdminConfig = z.output<typeof adminSchema>;
export type AdminUser = AdminConfig['users'][number];

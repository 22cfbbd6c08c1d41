// The one config schema of the appliance. Every key has its default here (and in
// appliance/config.example.yaml, which a test keeps in sync); sizes and durations carry units.
// load.ts validates a file against it once at start, freezes the result and injects it; nothing else
// reads YAML or environment for settings.
import { z } from 'zod';
import { adminSchema } from './admin.ts';
import { cloudSchema, keyVaultSchema } from './cloud.ts';
import { credentialRef } from './credential-ref.ts';
import { duration, ipAddress, name, port, size } from './fields.ts';
import { haIssues, haSchema } from './ha.ts';
import { identitySchema } from './identity.ts';
import { listenerSchema } from './listener.ts';
import { noticesSchema, syslogSchema } from './notices.ts';
import { retentionSchema } from './retention.ts';
import { acsRouteFields, acsRouteIssues } from './route-acs.ts';
import { captureRouteFields } from './route-capture.ts';
import { graphRouteFields } from './route-graph.ts';
import { smtpRouteFields, smtpRouteIssues } from './route-smtp.ts';
import { acceptedDomainsSchema, refineRules, ruleSchema } from './rules.ts';
import { parseSchedule } from './schedule.ts';

export { identitySchema, userSchema } from './identity.ts';
export { listenerSchema } from './listener.ts';

/** Deliveries in flight on a route whose `concurrency` is not set (Graph: see graphRouteConcurrency). */
export const DEFAULT_ROUTE_CONCURRENCY = 4;
/** Sender mailboxes a Graph route without a fixed `mailbox` is sized for by default. */
export const GRAPH_DEFAULT_MAILBOXES = 16;
/** Ceiling of the Graph default: legs beyond the mailboxes' own limits would only wait. */
export const GRAPH_DEFAULT_CONCURRENCY_CAP = 64;

/**
 * The default route concurrency of a Graph route. Graph's limit is per (app, mailbox) — 4 concurrent
 * requests (reference: Outlook service limits) — and each mailbox has its own limiter, so a route
 * cap of 4 would let ten sender mailboxes share 4 requests. One fixed `mailbox`: its
 * mailboxConcurrency; envelope senders: mailboxConcurrency × GRAPH_DEFAULT_MAILBOXES, capped.
 */
export function graphRouteConcurrency(route: {
  mailbox?: string | undefined;
  mailboxConcurrency: number;
}): number {
  if (route.mailbox !== undefined) return route.mailboxConcurrency;
  return Math.min(GRAPH_DEFAULT_CONCURRENCY_CAP, route.mailboxConcurrency * GRAPH_DEFAULT_MAILBOXES);
}

const routeCommon = {
  name,
  /** Deliveries in flight at once on this route. Default: 4; Graph: graphRouteConcurrency. */
  concurrency: z.number().int().min(1).max(256).optional(),
  /** Route that takes over when delivery here fails permanently (e.g. too large). */
  fallback: name.optional(),
};

export const routeSchema = z
  .discriminatedUnion('type', [
    z.strictObject({ ...routeCommon, ...captureRouteFields }),
    z.strictObject({ ...routeCommon, ...graphRouteFields }),
    z.strictObject({ ...routeCommon, ...acsRouteFields }),
    z.strictObject({ ...routeCommon, ...smtpRouteFields }),
  ])
  .transform((r) => ({
    ...r,
    concurrency: r.concurrency ?? (r.type === 'graph' ? graphRouteConcurrency(r) : DEFAULT_ROUTE_CONCURRENCY),
  }));

export const spoolSchema = z
  .strictObject({
    /** Spool root; relative paths resolve against the config file's directory. */
    directory: z.string().default('var/spool'),
    /** Below this much free space on the spool's file system the appliance reports not ready (/readyz 503). */
    minFreeSpace: size.default(64 * 1024 * 1024),
    /**
     * Retry delays after each transient failure: comma-separated durations, `*N` repeats one.
     * RFC 5321 §4.5.4: retry within minutes at first, then back off; give up after maxAge.
     */
    retrySchedule: z
      .string()
      .default('1m,5m*2,15m*2,30m*4,1h*6,2h*50')
      .superRefine((text, ctx) => {
        try {
          parseSchedule(text);
        } catch (err) {
          ctx.issues.push({ code: 'custom', message: (err as Error).message, input: text });
        }
      }),
    /** A message still undelivered this long after it was received goes to the dead-letter folder. */
    maxAge: duration.default(5 * 86_400_000),
    /** Longest delay a transport's Retry-After may impose before the next attempt. */
    maxRetryAfter: duration.default(3_600_000),
    /** Pruning of the trace and dead-letter folders by age and total size (config/retention.ts). */
    retention: retentionSchema,
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    appliance: z
      .strictObject({
        /** Host name used in the SMTP banner and the Received: trace header. */
        hostname: z.string().default('relaykit.local'),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
    listeners: z.array(listenerSchema).min(1),
    identities: z.array(identitySchema).min(1),
    routes: z.array(routeSchema).min(1),
    rules: z.array(ruleSchema).default([]),
    /** The organisation's own domains (contoso.com, *.contoso.com); others are "external" to rules. */
    acceptedDomains: acceptedDomainsSchema,
    /** Route for every recipient no rule matches. */
    defaultRoute: name,
    spool: spoolSchema,
    delivery: z
      .strictObject({
        /** On SIGTERM: how long in-flight deliveries may finish before the process exits. */
        drainTimeout: duration.default(30_000),
        /** How often the scheduler looks for due entries when idle. */
        pollInterval: duration.default(1000),
      })
      .prefault({}),
    http: z
      .strictObject({
        enabled: z.boolean().default(true),
        address: ipAddress.default('127.0.0.1'),
        port: port.default(8025),
      })
      .prefault({}),
    /** The operator page and admin API: Host allowlist, opt-in LAN listener (TLS + login), users. */
    admin: adminSchema,
    /** Credentials by name, each a reference (file, env, Key Vault); routes refer to them by name. */
    credentials: z.record(name, credentialRef).default({}),
    /** Microsoft cloud (authority, Graph host), outbound proxy and extra CAs; see cloud.ts. */
    cloud: cloudSchema,
    /** Key Vault for `keyVault:` credential references, read with the appliance's certificate. */
    keyVault: keyVaultSchema.optional(),
    /** DSNs to senders and alerts to operators; see notices.ts. */
    notices: noticesSchema,
    /** Forward every log line to a remote syslog collector (RFC 5424). */
    syslog: syslogSchema.optional(),
    /** Opt-in edge pair: a virtual address shared with a second appliance by VRRP; see ha.ts. */
    ha: haSchema.optional(),
  })
  .superRefine((cfg, ctx) => {
    const unique = (key: 'listeners' | 'identities' | 'routes' | 'rules') => {
      const seen = new Set<string>();
      cfg[key].forEach((item, i) => {
        if (seen.has(item.name)) {
          ctx.issues.push({
            code: 'custom',
            path: [key, i, 'name'],
            message: `duplicate name "${item.name}"`,
            input: item.name,
          });
        }
        seen.add(item.name);
      });
    };
    unique('listeners');
    unique('identities');
    unique('routes');
    unique('rules');
    const routes = new Set(cfg.routes.map((r) => r.name));
    const needRoute = (route: string | undefined, path: (string | number)[]) => {
      if (route !== undefined && !routes.has(route)) {
        ctx.issues.push({
          code: 'custom',
          path,
          message: `no route named "${route}" (routes: ${[...routes].join(', ')})`,
          input: route,
        });
      }
    };
    needRoute(cfg.defaultRoute, ['defaultRoute']);
    const token = cfg.admin.monitoringToken;
    if (token !== undefined && !(token in cfg.credentials)) {
      ctx.issues.push({
        code: 'custom',
        path: ['admin', 'monitoringToken'],
        message: `no credential named "${token}" in credentials`,
        input: token,
      });
    }
    needRoute(cfg.notices.route, ['notices', 'route']);
    const alerts = cfg.notices.alerts;
    if (alerts.to.length > 0 && cfg.notices.route === undefined) {
      ctx.issues.push({
        code: 'custom',
        path: ['notices', 'alerts', 'to'],
        message: 'alert mail needs notices.route (the route that carries notices)',
        input: alerts.to,
      });
    }
    if (cfg.notices.route !== undefined && cfg.notices.from === undefined) {
      ctx.issues.push({
        code: 'custom',
        path: ['notices', 'from'],
        message: 'required with notices.route: the From: address of DSNs and alert mail',
        input: cfg.notices,
      });
    }
    cfg.routes.forEach((r, i) => {
      needRoute(r.fallback, ['routes', i, 'fallback']);
      const routeIssues = r.type === 'smtp' ? smtpRouteIssues(r) : r.type === 'acs' ? acsRouteIssues(r) : [];
      for (const issue of routeIssues) {
        ctx.issues.push({
          code: 'custom',
          path: ['routes', i, ...issue.path],
          message: issue.message,
          input: r,
        });
      }
      if (r.fallback === r.name) {
        ctx.issues.push({
          code: 'custom',
          path: ['routes', i, 'fallback'],
          message: 'a route cannot fall back to itself',
          input: r.fallback,
        });
      }
    });
    refineRules(cfg, ctx);
    for (const issue of haIssues(cfg)) {
      ctx.issues.push({ code: 'custom', path: issue.path, message: issue.message, input: cfg.ha });
    }
  });

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ListenerConfig = Config['listeners'][number];
export type IdentityConfig = Config['identities'][number];
export type RouteConfig = Config['routes'][number];
export type RouteType = RouteConfig['type'];

// Composition root: builds the rooms from a validated config and wires them together. The only place
// that knows every room; each room receives what it needs and nothing more.
import type { Server } from 'node:http';
import { createTokenSources } from './auth/index.ts';
import { resolveCloud } from './config/cloud.ts';
import type { Config } from './config/schema.ts';
import { createCredentialStore } from './credentials/index.ts';
import { createTransport } from './delivery/registry.ts';
import type { Transport } from './delivery/transport.ts';
import { DeliveryEngine } from './delivery/worker.ts';
import type { Logger } from './log.ts';
import { createCloudHttp } from './net/cloud-fetch.ts';
import { type AdminSurface, adminHostnames, startAdminSurface } from './ops/admin/listener.ts';
import { logDeliveryEvent, logReceived, logRouteChange } from './ops/event-log.ts';
import { scanExpiry } from './ops/expiry.ts';
import { HealthModel, type HealthReport } from './ops/health.ts';
import { boundPort, type HttpDeps, startHttp } from './ops/http.ts';
import { createMetrics, type Metrics } from './ops/metrics.ts';
import { createNotices, type Notices } from './ops/notices/index.ts';
import { QueueAdmin } from './ops/queue-admin.ts';
import { RouteStateTracker } from './ops/route-state.ts';
import type { SyslogStats } from './ops/syslog/sender.ts';
import { createPageSource } from './ops/web/source.ts';
import { LockoutState } from './receiver/lockout-state.ts';
import { type BoundListener, Receiver } from './receiver/server.ts';
import { compileRules, loadHeaderDecoder } from './routing/router.ts';
import { FolderSizesPaced, spoolDiskUse, startRetention } from './spool/retention.ts';
import { Spool, type SpoolFaults } from './spool/spool.ts';
import { version } from './version.ts';

export interface ApplianceOptions {
  readonly logger: Logger;
  /** Injected so tests and simulators stand in for the network. */
  readonly fetch?: typeof globalThis.fetch;
  readonly now?: () => number;
  readonly spoolFaults?: SpoolFaults;
  /** How often alerts look at the health model (default 30 s; tests make it short). */
  readonly alertCheckInterval?: number;
  /** The remote syslog sender the logger forwards to, for its metrics (run.ts owns its life). */
  readonly syslog?: { stats(): SyslogStats };
}

export interface Appliance {
  readonly listeners: readonly BoundListener[];
  /** Port of the status HTTP server, if enabled. */
  readonly httpPort: number | undefined;
  /** The off-loopback admin listener (URL, certificate fingerprint), if configured. */
  readonly adminSurface: AdminSurface | undefined;
  readonly spool: Spool;
  readonly engine: DeliveryEngine;
  readonly metrics: Metrics;
  readonly admin: QueueAdmin;
  readonly transports: ReadonlyMap<string, Transport>;
  /** The one health model (/healthz, /readyz, /status, alerts). */
  readonly healthModel: HealthModel;
  readonly routeStates: RouteStateTracker;
  /** DSNs and operator alerts. */
  readonly notices: Notices;
  health(): Promise<HealthReport>;
  /** SIGTERM path: stop intake, drain deliveries within the deadline, close everything. */
  stop(): Promise<{ drained: boolean }>;
}

export async function startAppliance(config: Config, opts: ApplianceOptions): Promise<Appliance> {
  const { logger } = opts;
  const now = opts.now ?? Date.now;
  const metrics = createMetrics();
  const spool = await Spool.open(config.spool.directory, logger, opts.spoolFaults);
  const recovery = await spool.recover();
  metrics.inc('relaykit_quarantined_total', {}, recovery.quarantined.length);
  logger.info(
    { pending: recovery.entries.length, swept: recovery.swept, quarantined: recovery.quarantined.length },
    'spool: recovered',
  );

  // One outbound door to the Microsoft cloud (proxy, extra CAs) for tokens, Key Vault and transports.
  const cloudHttp = createCloudHttp(config.cloud);
  const cloudFetch = opts.fetch ?? cloudHttp.fetch;
  const credentials = createCredentialStore(config, { logger, cloudHttp });
  const tokens = createTokenSources(config, { logger, credentials, fetch: cloudFetch, now });
  const transports = new Map<string, Transport>();
  for (const route of config.routes) {
    transports.set(
      route.name,
      await createTransport(route, {
        logger: logger.child({ route: route.name }),
        credentials,
        tokens,
        fetch: cloudFetch,
        ...(opts.fetch === undefined
          ? { request: cloudHttp.request, connectionClosed: cloudHttp.connectionClosed }
          : {}),
        now,
        cloud: resolveCloud(config.cloud),
      }),
    );
  }
  let notices: Notices | undefined;
  const routeStates = new RouteStateTracker(config.routes, now(), (change) => logRouteChange(logger, change));
  const engine = new DeliveryEngine({
    spool,
    transports,
    routes: config.routes,
    spoolConfig: config.spool,
    logger: logger.child({ room: 'delivery' }),
    metrics,
    now,
    observer: (event) => {
      if (event.kind === 'attempt') routeStates.observe(event);
      logDeliveryEvent(logger, event);
      notices?.onEvent(event);
    },
  });
  // AUTH and admin-login lockouts survive a restart (<spool>/state/lockout.json).
  const lockouts = await LockoutState.open(spool.root, logger.child({ room: 'receiver' }), now);
  const rules = compileRules(config);
  // Header rules read RFC 2047 text: the decoder loads now, so one that cannot load stops the start.
  if (rules.headerNames.size > 0) await loadHeaderDecoder();
  const receiver = new Receiver({
    config,
    lockouts,
    spool,
    rules,
    logger: logger.child({ room: 'receiver' }),
    metrics,
    onAccepted: (entry) => {
      logReceived(logger, entry);
      engine.add(entry);
    },
    now,
  });
  const admin = new QueueAdmin(spool, engine, now);

  // /metrics and /status share one paced walk of the spool folders (a stat per file), paced by the
  // real clock: what it bounds is CPU time.
  const folderSizes = new FolderSizesPaced(spool.root, () => performance.now());
  let syslogDropped = 0; // the sender's count already added to the counter
  metrics.onCollect(async () => {
    const { depth, oldestReceivedAt } = await spool.depthAndOldest();
    metrics.set('relaykit_spool_depth', {}, depth);
    metrics.set(
      'relaykit_spool_oldest_age_seconds',
      {},
      oldestReceivedAt ? Math.max(0, (now() - oldestReceivedAt) / 1000) : 0,
    );
    metrics.set('relaykit_dead_letter_depth', {}, await spool.count('dead'));
    const disk = await spoolDiskUse(spool.root, folderSizes);
    metrics.set('relaykit_spool_filesystem_size_bytes', {}, disk.filesystem.totalBytes);
    metrics.set('relaykit_spool_filesystem_avail_bytes', {}, disk.filesystem.availableBytes);
    for (const [folder, bytes] of Object.entries(disk.folders)) {
      metrics.set('relaykit_spool_folder_bytes', { folder }, bytes);
    }
    const syslog = opts.syslog?.stats();
    if (syslog) {
      metrics.set('relaykit_syslog_connected', {}, syslog.connected ? 1 : 0);
      metrics.set('relaykit_syslog_queued_lines', {}, syslog.queued);
      metrics.inc('relaykit_syslog_dropped_total', {}, syslog.dropped - syslogDropped);
      syslogDropped = syslog.dropped;
    }
  });
  const retention = startRetention(spool, config.spool.retention, {
    now,
    logger: logger.child({ room: 'spool' }),
    onReport: (r) => {
      metrics.inc('relaykit_retention_removed_total', { folder: 'trace' }, r.trace.removed);
      metrics.inc('relaykit_retention_removed_total', { folder: 'dead' }, r.dead.removed);
    },
  });

  let stopping: Promise<{ drained: boolean }> | undefined;
  const startedAt = now();
  const healthModel = new HealthModel({
    version,
    now,
    startedAt,
    listenersUp: () => receiver.up,
    listeners: () => receiver.addresses(),
    stopping: () => stopping !== undefined,
    spool,
    minFreeBytes: config.spool.minFreeSpace,
    inFlight: () => engine.inFlight(),
    routes: routeStates,
    credentials: () => credentials.health(),
    expiry: () => scanExpiry(config, now()),
    folderBytes: () => folderSizes.get(),
  });
  const started = await createNotices({
    config,
    spool,
    logger: logger.child({ room: 'notices' }),
    now,
    version,
    health: healthModel,
    routes: routeStates,
    onSpooled: (entry) => engine.add(entry),
    ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
    ...(opts.alertCheckInterval === undefined ? {} : { checkInterval: opts.alertCheckInterval }),
  });
  notices = started;
  const health = async (): Promise<HealthReport> => {
    const { ready, disk } = await healthModel.readiness();
    const transportHealth = Object.fromEntries(
      [...transports].map(([name, t]) => [name, t.health?.() ?? { ok: true }]),
    );
    return {
      ok: ready,
      listeners: receiver.up,
      spoolWritable: disk.writable,
      detail: { transports: transportHealth, credentials: credentials.health() },
    };
  };

  let listeners: BoundListener[];
  try {
    listeners = await receiver.listen();
  } catch (err) {
    await receiver.close(0);
    await retention.stop();
    throw err;
  }
  let adminSurface: AdminSurface | undefined;
  const httpDeps: HttpDeps = {
    logger,
    metrics,
    health: healthModel,
    admin,
    hostnames: adminHostnames(config),
    routes: config.routes.map((r) => r.name),
    page: createPageSource({
      snapshot: () => healthModel.snapshot(),
      hostname: config.appliance.hostname,
      spool,
      metrics,
      expiryWarningMs: config.notices.alerts.expiryWarning,
      certificates: () =>
        adminSurface?.tls.source === 'self-signed'
          ? [{ key: 'admin.listener.tls (self-signed)', path: adminSurface.tls.certPath }]
          : [],
      startedAt,
      now,
    }),
    testRoute: async (name, to, signal) => {
      const route = config.routes.find((r) => r.name === name);
      const transport = transports.get(name);
      if (!route || !transport) throw new Error(`no route ${name}`);
      // Loaded on first use: an operator's test message is rare, the relay's idle RSS is not.
      const { testRoute } = await import('./ops/test-route.ts');
      return testRoute(route, to, {
        transport,
        tokens,
        credentials,
        cloud: resolveCloud(config.cloud),
        hostname: config.appliance.hostname,
        now,
        signal,
      });
    },
  };
  let http: Server | undefined;
  try {
    if (config.http.enabled) http = await startHttp(config.http.address, config.http.port, httpDeps, now);
    adminSurface = await startAdminSurface(config, httpDeps, credentials, now, {
      lockouts,
      spoolRoot: spool.root,
    });
  } catch (err) {
    http?.closeAllConnections();
    http?.close();
    await receiver.close(0);
    await retention.stop();
    await spool.close();
    throw err;
  }
  for (const entry of recovery.entries) engine.add(entry);

  return {
    listeners,
    httpPort: http ? boundPort(http) : undefined,
    adminSurface,
    spool,
    engine,
    metrics,
    admin,
    transports,
    healthModel,
    routeStates,
    notices: started,
    health,
    stop() {
      stopping ??= (async () => {
        const deadline = config.delivery.drainTimeout;
        const closing = receiver.close(deadline);
        const { finished } = await engine.drain(deadline);
        await closing;
        await started.stop();
        await Promise.all([...transports.values()].map((t) => t.close?.()));
        await credentials.close?.();
        await cloudHttp.close();
        for (const server of [http, adminSurface?.server]) {
          if (!server) continue;
          server.closeAllConnections();
          await new Promise((r) => server.close(r));
        }
        await Promise.all([lockouts.flush(), adminSurface?.flush()]);
        await retention.stop();
        await spool.close();
        return { drained: finished };
      })();
      return stopping;
    },
  };
}

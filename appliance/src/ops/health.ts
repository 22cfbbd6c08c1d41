// The health model: one typed snapshot of the appliance that every surface renders — /healthz
// (liveness), /readyz (readiness), /status (JSON), the web status page, metrics and alerts. It reads
// the rooms through narrow callbacks and never changes anything.
//
//   live    the process answers (the HTTP server running this code is the proof)
//   ready   intake can take mail: listeners up, spool writable, free space above spool.minFreeSpace
//   overall red: not ready, a route failing or a certificate expired; amber: a route degraded, a
//           certificate or credential expiring or stale; green otherwise
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CredentialHealth } from '../credentials/store.ts';
import type { BoundListener } from '../receiver/server.ts';
import { diskSpace } from './disk.ts';
import type { ExpiryItem } from './expiry.ts';
import type { RouteStateTracker, RouteStatus } from './route-state.ts';

export const Overall = { green: 'green', amber: 'amber', red: 'red' } as const;
export type Overall = (typeof Overall)[keyof typeof Overall];

export interface IntakeStatus {
  readonly state: 'accepting' | 'refusing';
  /** Why intake refuses (or would refuse) mail. */
  readonly reason?: string;
  readonly hint?: string;
  readonly listeners: readonly BoundListener[];
}

export interface QueueStatus {
  readonly depth: number;
  readonly oldestAgeSeconds: number;
  readonly inFlight: number;
  readonly deadLetters: number;
  readonly deadLetters24h: number;
  readonly quarantined: number;
}

export interface DiskStatus {
  readonly path: string;
  readonly writable: boolean;
  readonly freeBytes?: number;
  readonly totalBytes?: number;
  readonly minFreeBytes: number;
  readonly state: 'ok' | 'low' | 'unwritable';
  /** Bytes per spool folder (queue, dead, trace, quarantine, incoming); in /status only. */
  readonly folders?: Readonly<Record<string, number>>;
}

export interface HealthSnapshot {
  readonly overall: Overall;
  /** Intake accepts mail (what /readyz answers). */
  readonly ready: boolean;
  readonly version: string;
  /** ISO time of this snapshot. */
  readonly at: string;
  readonly uptimeSeconds: number;
  readonly intake: IntakeStatus;
  readonly routes: readonly RouteStatus[];
  readonly queue: QueueStatus;
  readonly disk: DiskStatus;
  readonly expiry: readonly ExpiryItem[];
  readonly credentials: readonly CredentialHealth[];
  /** One sentence per thing that is not green, naming the part, for people and alerts. */
  readonly problems: readonly string[];
}

/** The older yes/no report: `app.health()` and the web page source read it. */
export interface HealthReport {
  readonly ok: boolean;
  readonly listeners: boolean;
  readonly spoolWritable: boolean;
  readonly detail: Record<string, unknown>;
}

export interface Liveness {
  readonly ok: true;
  readonly version: string;
  readonly uptimeSeconds: number;
}

export interface Readiness {
  readonly ready: boolean;
  readonly intake: IntakeStatus;
  readonly disk: DiskStatus;
}

/** What the model reads, each through the narrowest callback (wired in app.ts). */
export interface HealthSources {
  readonly version: string;
  readonly now: () => number;
  readonly startedAt: number;
  readonly listenersUp: () => boolean;
  readonly listeners: () => BoundListener[];
  readonly stopping: () => boolean;
  readonly spool: {
    readonly root: string;
    probeWritable(): Promise<boolean>;
    depthAndOldest(): Promise<{ depth: number; oldestReceivedAt: number | undefined }>;
    count(folder: 'dead'): Promise<number>;
    listQuarantine(): Promise<string[]>;
    pathOf(folder: 'dead', id: string, ext: 'msg'): string;
  };
  readonly minFreeBytes: number;
  readonly inFlight: () => number;
  readonly routes: RouteStateTracker;
  readonly credentials: () => CredentialHealth[];
  /** Certificates and their expiry; the model caches the answer for `expiryScanInterval`. */
  readonly expiry: () => Promise<ExpiryItem[]>;
  readonly expiryScanInterval?: number;
  /** Bytes per spool folder, for /status (walks the folders, so readiness never calls it). */
  readonly folderBytes?: () => Promise<Readonly<Record<string, number>>>;
}

const DAY = 86_400_000;

export class HealthModel {
  private readonly src: HealthSources;
  private expiryCache: { at: number; items: ExpiryItem[] } | undefined;

  constructor(sources: HealthSources) {
    this.src = sources;
  }

  liveness(): Liveness {
    return {
      ok: true,
      version: this.src.version,
      uptimeSeconds: Math.round((this.src.now() - this.src.startedAt) / 1000),
    };
  }

  async readiness(): Promise<Readiness> {
    const disk = await this.disk();
    const intake = this.intake(disk);
    return { ready: intake.state === 'accepting' && disk.state === 'ok', intake, disk };
  }

  /**
   * Everything /status shows. `folders: false` leaves out the bytes per spool folder, which stats
   * every file: the alert check every 30 s does not use them, and with a long queue (a cloud outage)
   * that walk would cost a thread-pool round trip per queued message each time.
   */
  async snapshot(opts: { readonly folders?: boolean } = {}): Promise<HealthSnapshot> {
    const now = this.src.now();
    const [{ ready, intake, disk: space }, queue, expiry, folders] = await Promise.all([
      this.readiness(),
      this.queue(now),
      this.expiry(now),
      opts.folders === false ? undefined : this.src.folderBytes?.().catch(() => undefined),
    ]);
    const disk: DiskStatus = folders === undefined ? space : { ...space, folders };
    const routes = this.src.routes.all();
    const credentials = this.src.credentials();
    const problems: string[] = [];
    if (intake.state === 'refusing') problems.push(`intake refusing: ${intake.reason}`);
    else if (!ready) problems.push(`not ready: ${intake.reason}`);
    for (const r of routes) {
      if (r.state !== 'ok')
        problems.push(`route ${r.name} ${r.state}: ${r.code ?? ''} ${r.reason ?? ''}`.trim());
    }
    for (const e of expiry) {
      if (e.state === 'expired') problems.push(`${e.key}: certificate expired ${e.expiresAt}`);
      if (e.state === 'expiring') problems.push(`${e.key}: certificate expires in ${e.daysLeft} days`);
    }
    for (const c of credentials) {
      if (!c.ok || c.stale)
        problems.push(
          `credentials.${c.name}: ${c.stale ? 'stale' : 'unavailable'}${c.detail ? ` (${c.detail})` : ''}`,
        );
    }
    const red =
      !ready || routes.some((r) => r.state === 'failing') || expiry.some((e) => e.state === 'expired');
    const amber =
      routes.some((r) => r.state === 'degraded') ||
      expiry.some((e) => e.state === 'expiring') ||
      credentials.some((c) => !c.ok || c.stale === true);
    return {
      overall: red ? 'red' : amber ? 'amber' : 'green',
      ready,
      version: this.src.version,
      at: new Date(now).toISOString(),
      uptimeSeconds: Math.round((now - this.src.startedAt) / 1000),
      intake,
      routes,
      queue,
      disk,
      expiry,
      credentials,
      problems,
    };
  }

  private intake(disk: DiskStatus): IntakeStatus {
    const listeners = this.src.listeners();
    const refusing = (reason: string, hint?: string): IntakeStatus => ({
      state: 'refusing',
      reason,
      ...(hint === undefined ? {} : { hint }),
      listeners,
    });
    if (this.src.stopping()) return refusing('shutting down');
    if (!this.src.listenersUp()) return refusing('SMTP listeners are not up');
    if (disk.state === 'unwritable') {
      return refusing(
        `the spool at ${disk.path} cannot be written`,
        'check the file system (full, read-only, permissions)',
      );
    }
    if (disk.state === 'low') {
      // Writes still work, so devices are still answered 250; readiness already says "send elsewhere".
      return {
        state: 'accepting',
        reason: `free space on the spool file system is ${disk.freeBytes ?? 0} bytes, below spool.minFreeSpace (${disk.minFreeBytes}); not ready`,
        hint: 'free disk space or grow the volume; queued mail is kept and delivered meanwhile',
        listeners,
      };
    }
    return { state: 'accepting', listeners };
  }

  private async disk(): Promise<DiskStatus> {
    const path = this.src.spool.root;
    const [writable, space] = await Promise.all([this.src.spool.probeWritable(), diskSpace(path)]);
    const low = space !== undefined && space.freeBytes < this.src.minFreeBytes;
    return {
      path,
      writable,
      ...(space === undefined ? {} : { freeBytes: space.freeBytes, totalBytes: space.totalBytes }),
      minFreeBytes: this.src.minFreeBytes,
      state: !writable ? 'unwritable' : low ? 'low' : 'ok',
    };
  }

  private async queue(now: number): Promise<QueueStatus> {
    const [{ depth, oldestReceivedAt }, deadLetters, deadLetters24h, quarantine] = await Promise.all([
      this.src.spool.depthAndOldest(),
      this.src.spool.count('dead'),
      this.deadSince(now - DAY),
      this.src.spool.listQuarantine(),
    ]);
    return {
      depth,
      oldestAgeSeconds:
        oldestReceivedAt === undefined ? 0 : Math.max(0, Math.round((now - oldestReceivedAt) / 1000)),
      inFlight: this.src.inFlight(),
      deadLetters,
      deadLetters24h,
      quarantined: quarantine.length,
    };
  }

  /** Entries dead-lettered since `since`: their state file is written at that moment. */
  private async deadSince(since: number): Promise<number> {
    const dir = dirname(this.src.spool.pathOf('dead', 'x', 'msg'));
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.state'));
    } catch {
      return 0;
    }
    let n = 0;
    for (const name of names) {
      const s = await stat(join(dir, name)).catch(() => undefined);
      if (s && s.mtimeMs >= since) n++;
    }
    return n;
  }

  private async expiry(now: number): Promise<ExpiryItem[]> {
    const every = this.src.expiryScanInterval ?? 3_600_000;
    if (this.expiryCache === undefined || now - this.expiryCache.at >= every) {
      this.expiryCache = { at: now, items: await this.src.expiry() };
    }
    return this.expiryCache.items;
  }
}

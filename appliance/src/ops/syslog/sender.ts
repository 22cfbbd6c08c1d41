// Remote syslog, the sender: every log line pino prints (already redacted: never bodies, secrets or
// AUTH payloads) also goes to the configured collector as an RFC 5424 message over TCP (RFC 6587
// octet counting) or TLS (RFC 5425: TLS 1.2 or later, the collector's certificate verified against
// the system roots plus syslog.tls.ca).
//
// The collector can never hold up the relay: write() only formats and queues (synchronous, bounded by
// syslog.bufferLines; when full the oldest line is dropped and counted), the socket gets at most what
// its own buffer takes, a collector that stops reading is cut after STALL_TIMEOUT_MS and one that is
// down is retried with backoff. Dropped lines are reported once, in one log line with the count, when
// the collector takes lines again (and as relaykit_syslog_dropped_total).
import { readFileSync } from 'node:fs';
import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { checkServerIdentity, type PeerCertificate, rootCertificates, connect as tlsConnect } from 'node:tls';
import type { SyslogConfig } from '../../config/notices.ts';
import { RelayError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import { nextSequenceId, type SyslogHeader, syslogFrame } from './rfc5424.ts';

/** First reconnect delay; doubles per failed attempt up to RECONNECT_MAX_MS. */
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;
/** A TCP connect plus TLS handshake that takes longer is abandoned (and retried). */
const CONNECT_TIMEOUT_MS = 10_000;
/** A collector that accepts nothing for this long while we have lines for it is cut and redialled. */
const STALL_TIMEOUT_MS = 30_000;

export interface SyslogSenderOptions {
  readonly config: SyslogConfig;
  /** HOSTNAME of every message (appliance.hostname). */
  readonly hostname: string;
  readonly version: string;
  readonly now?: () => number;
  /** Tests shorten the timings; production uses the constants above. */
  readonly timing?: Partial<{
    reconnectMinMs: number;
    reconnectMaxMs: number;
    stallMs: number;
    connectMs: number;
  }>;
}

export interface SyslogStats {
  readonly connected: boolean;
  readonly queued: number;
  /** Lines dropped since start (buffer full while the collector was away or slow). */
  readonly dropped: number;
  readonly sent: number;
}

/** Reads the extra CA bundle once at start; a missing file is a config error, not a later surprise. */
function trustedCas(config: SyslogConfig): string[] | undefined {
  const file = config.tls?.ca;
  if (file === undefined) return undefined;
  try {
    return [...rootCertificates, readFileSync(file, 'utf8')];
  } catch (err) {
    throw new RelayError('RELAY_CONFIG_REFERENCE', `syslog.tls.ca: cannot read ${file}`, { cause: err });
  }
}

export class SyslogSender {
  private readonly config: SyslogConfig;
  private readonly header: SyslogHeader;
  private readonly now: () => number;
  private readonly ca: string[] | undefined;
  private readonly timing: {
    reconnectMinMs: number;
    reconnectMaxMs: number;
    stallMs: number;
    connectMs: number;
  };
  /** Frames waiting for the socket, oldest first, from `head`. */
  private queue: Buffer[] = [];
  private head = 0;
  private seq = 0;
  private socket: Socket | undefined;
  private ready = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private backoff: number;
  private closed = false;
  private pumping = false;
  private logger: Logger | undefined;
  /** Dropped since the last report line. */
  private unreported = 0;
  /** The last failure was already logged: one line per outage, not per retry. */
  private outageLogged = false;
  private counts = { dropped: 0, sent: 0 };

  constructor(opts: SyslogSenderOptions) {
    this.config = opts.config;
    this.now = opts.now ?? Date.now;
    this.ca = trustedCas(opts.config);
    this.timing = {
      reconnectMinMs: RECONNECT_MIN_MS,
      reconnectMaxMs: RECONNECT_MAX_MS,
      stallMs: STALL_TIMEOUT_MS,
      connectMs: CONNECT_TIMEOUT_MS,
      ...opts.timing,
    };
    this.backoff = this.timing.reconnectMinMs;
    this.header = {
      facility: opts.config.facility,
      hostname: opts.hostname,
      appName: opts.config.appName,
      procId: String(process.pid),
      software: 'relaykit',
      swVersion: opts.version,
    };
  }

  /** The logger the sender reports on (the one whose lines it forwards); set once it exists. */
  attach(logger: Logger): void {
    this.logger = logger;
    this.dial();
  }

  /** pino's destination side: one JSON line. Never blocks and never throws. */
  write(line: string): void {
    if (this.closed) return;
    this.seq = nextSequenceId(this.seq);
    this.queue.push(syslogFrame(line, this.header, this.seq, this.now()));
    if (this.queue.length - this.head > this.config.bufferLines) {
      this.head++;
      this.counts.dropped++;
      this.unreported++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.pump();
  }

  stats(): SyslogStats {
    return {
      connected: this.ready,
      queued: this.queue.length - this.head,
      dropped: this.counts.dropped,
      sent: this.counts.sent,
    };
  }

  /** Gives queued lines up to `graceMs` to leave, then closes the connection. */
  async close(graceMs = 2000): Promise<void> {
    const deadline = this.now() + graceMs;
    while (this.ready && this.queue.length > this.head && this.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.stallTimer);
    const s = this.socket;
    this.socket = undefined;
    this.ready = false;
    if (s && !s.destroyed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.destroy();
          resolve();
        }, 500);
        t.unref();
        s.end(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private dial(): void {
    if (this.closed || this.socket) return;
    const { host, port, transport } = this.config;
    const name = this.config.tls?.servername ?? host;
    const onUp = () => {
      socket.setTimeout(0);
      this.ready = true;
      this.backoff = this.timing.reconnectMinMs;
      if (this.outageLogged)
        this.logger?.info({ event: 'syslog-connected', host, port }, 'syslog: collector reachable again');
      this.outageLogged = false;
      this.reportDropped();
      this.pump();
    };
    const socket =
      transport === 'tls'
        ? tlsConnect(
            {
              host,
              port,
              minVersion: 'TLSv1.2',
              ...(this.ca ? { ca: this.ca } : {}),
              // Verified against syslog.tls.servername (else host): as SNI for a name (RFC 6066 allows
              // no IP literal there), against the certificate's IP SANs for an address.
              ...(isIP(name) === 0
                ? { servername: name }
                : {
                    checkServerIdentity: (_h: string, cert: PeerCertificate) =>
                      checkServerIdentity(name, cert),
                  }),
            },
            onUp,
          )
        : tcpConnect({ host, port }, onUp);
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(this.timing.connectMs, () => socket.destroy(new Error('connect timed out')));
    socket.on('drain', () => {
      clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
      this.pump();
    });
    // A collector has nothing to say (RFC 5425 §4.3); read and discard so its bytes cannot pile up.
    socket.on('data', () => {});
    socket.on('error', (err) => this.lost(socket, err));
    socket.on('close', () => this.lost(socket, undefined));
  }

  private lost(socket: Socket, err: Error | undefined): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.ready = false;
    clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    socket.destroy();
    if (this.closed) return;
    if (!this.outageLogged) {
      this.outageLogged = true;
      const { host, port } = this.config;
      this.logger?.warn(
        { event: 'syslog-unreachable', host, port, reason: err?.message ?? 'connection closed' },
        `syslog: collector ${host}:${port} not reachable; lines are buffered (up to syslog.bufferLines) and sent when it is`,
      );
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.dial();
    }, this.backoff);
    this.retryTimer.unref();
    this.backoff = Math.min(this.backoff * 2, this.timing.reconnectMaxMs);
  }

  private reportDropped(): void {
    if (this.unreported === 0) return;
    const dropped = this.unreported;
    this.unreported = 0;
    this.logger?.warn(
      { event: 'syslog-dropped', dropped, bufferLines: this.config.bufferLines },
      `syslog: ${dropped} log lines were dropped while the collector did not take them (oldest first)`,
    );
  }

  /** Hands queued frames to the socket until its buffer is full; a stall timer guards the wait. */
  private pump(): void {
    const socket = this.socket;
    if (this.pumping || !this.ready || !socket || this.stallTimer) return;
    this.pumping = true;
    try {
      while (this.head < this.queue.length) {
        const frame = this.queue[this.head] as Buffer;
        this.queue[this.head] = Buffer.alloc(0);
        this.head++;
        this.counts.sent++;
        if (!socket.write(frame)) {
          this.stallTimer = setTimeout(() => {
            socket.destroy(new Error(`collector took nothing for ${this.timing.stallMs} ms`));
          }, this.timing.stallMs);
          this.stallTimer.unref();
          break;
        }
      }
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      }
    } finally {
      this.pumping = false;
    }
    // Lines logged while pumping (the dropped report, a reconnect) are sent now.
    if (this.head < this.queue.length && !this.stallTimer && this.ready) queueMicrotask(() => this.pump());
  }
}

// TLS policy of a listener turned into Node TLS options for smtp-server: explicit certificate and
// key (never the library's built-in pair), minimum version (TLS 1.2 unless the operator opts a
// legacy listener down), cipher list, client-certificate request against a CA bundle. Also reloads
// certificate, key and CA without a restart (file watch or SIGHUP) by rebuilding the secure context.
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { SMTPServer } from 'smtp-server';
import { isLegacyTls, type ListenerConfig } from '../config/listener.ts';
import type { Logger } from '../log.ts';

/** ECDHE with AEAD only, forward secrecy first (Mozilla "intermediate" for TLS 1.2; 1.3 suites are fixed). */
export const MODERN_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * OpenSSL 3 refuses TLS 1.0/1.1 (and SHA-1 signatures) above security level 0. The modern suites come
 * first and the server's order wins, so TLS 1.2 clients of a legacy listener still get AEAD; HIGH adds
 * the AES-CBC/SHA-1 suites old devices speak. ("DEFAULT" only expands at the start of a list.)
 */
export const LEGACY_CIPHERS = `${MODERN_CIPHERS}:HIGH:!aNULL:!eNULL:!PSK:!SRP:@SECLEVEL=0`;

export interface ListenerTlsOptions {
  key: Buffer;
  cert: Buffer;
  ca?: Buffer;
  minVersion: ListenerConfig['tls']['minVersion'];
  ciphers: string;
  honorCipherOrder: true;
  requestCert: boolean;
  /** Always false: an unverified certificate is refused by the receiver with a clear reply instead. */
  rejectUnauthorized: false;
}

export function effectiveCiphers(tls: ListenerConfig['tls']): string {
  if (tls.ciphers !== undefined) return tls.ciphers;
  return isLegacyTls(tls.minVersion) ? LEGACY_CIPHERS : MODERN_CIPHERS;
}

/** Reads the files a listener's TLS needs; throws (with the path) when one is unreadable. */
export function tlsOptions(
  l: ListenerConfig,
  read: (path: string) => Buffer = readFileSync,
): ListenerTlsOptions | undefined {
  const tls = l.tls;
  if (tls.mode === 'none') return undefined;
  const cc = tls.clientCertificates;
  return {
    key: read(tls.key as string),
    cert: read(tls.cert as string),
    ...(cc ? { ca: read(cc.ca) } : {}),
    minVersion: tls.minVersion,
    ciphers: effectiveCiphers(tls),
    honorCipherOrder: true,
    requestCert: cc !== undefined,
    rejectUnauthorized: false,
  };
}

/** Files whose change triggers a reload. */
export function tlsFiles(l: ListenerConfig): string[] {
  if (l.tls.mode === 'none') return [];
  return [l.tls.cert, l.tls.key, l.tls.clientCertificates?.ca].filter((p): p is string => p !== undefined);
}

/**
 * Rebuilds one listener's TLS context from disk. A failed reload (half-written file, key not matching
 * the certificate) is logged and the previous context stays in use.
 */
export class TlsReloader {
  private readonly listener: ListenerConfig;
  private readonly server: SMTPServer;
  private readonly logger: Logger;
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Successful reloads, for tests and /status. */
  reloads = 0;

  constructor(listener: ListenerConfig, server: SMTPServer, logger: Logger) {
    this.listener = listener;
    this.server = server;
    this.logger = logger;
  }

  /** Watches the directories of the TLS files (renames by cert tools replace the inode). */
  watch(debounceMs = 200): void {
    const files = tlsFiles(this.listener);
    const byDir = new Map<string, Set<string>>();
    for (const f of files) {
      const set = byDir.get(dirname(f)) ?? new Set<string>();
      set.add(basename(f));
      byDir.set(dirname(f), set);
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, (_event, file) => {
          if (file !== null && !names.has(String(file))) return;
          clearTimeout(this.timer);
          this.timer = setTimeout(() => this.reload('file change'), debounceMs);
          this.timer.unref();
        });
        w.on('error', () => {});
        w.unref();
        this.watchers.push(w);
      } catch (err) {
        this.logger.warn(
          { listener: this.listener.name, dir, err: (err as Error).message },
          'tls: cannot watch certificate directory; reload with SIGHUP',
        );
      }
    }
  }

  reload(why: string): boolean {
    try {
      const opts = tlsOptions(this.listener);
      if (!opts) return false;
      this.server.updateSecureContext(opts);
      this.reloads++;
      this.logger.info({ listener: this.listener.name, why }, 'tls: certificate and key reloaded');
      return true;
    } catch (err) {
      this.logger.error(
        { listener: this.listener.name, why, err: (err as Error).message },
        'tls: reload failed; keeping the previous certificate',
      );
      return false;
    }
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
  }
}

// Expiry of what the appliance presents or trusts: certificates in files the config names (listener
// TLS, the Key Vault identity, CA bundles) and certificate credentials the routes use. Read once per
// scan, parsed with node:crypto's X509Certificate; a file that cannot be read is reported, not thrown.
import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { credentialUses, fileReferences } from '../config/references.ts';
import type { Config } from '../config/schema.ts';
import { pemCertificates } from '../pem.ts';

export interface ExpiryItem {
  /** Config key that names it, e.g. "listeners[0].tls.cert" or "credentials.graph-cert". */
  readonly key: string;
  readonly subject: string;
  /** ISO time the certificate stops being valid. */
  readonly expiresAt: string;
  readonly daysLeft: number;
  readonly state: 'ok' | 'expiring' | 'expired';
}

export function expiryOf(key: string, cert: X509Certificate, now: number, warnMs: number): ExpiryItem {
  const end = Date.parse(cert.validTo);
  const left = end - now;
  return {
    key,
    subject: cert.subject.replace(/\n/g, ', '),
    expiresAt: new Date(end).toISOString(),
    daysLeft: Math.floor(left / 86_400_000),
    state: left <= 0 ? 'expired' : left <= warnMs ? 'expiring' : 'ok',
  };
}

/**
 * The leaf certificate of each file reference (for CA bundles: the soonest-expiring CA), and the
 * leaf of each certificate credential stored in a file.
 */
export async function scanExpiry(config: Config, now: number): Promise<ExpiryItem[]> {
  const warn = config.notices.alerts.expiryWarning;
  const out: ExpiryItem[] = [];
  const add = async (key: string, path: string, all: boolean) => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      return;
    }
    const certs = pemCertificates(text);
    const pick = all ? [...certs].sort((a, b) => Date.parse(a.validTo) - Date.parse(b.validTo))[0] : certs[0];
    if (pick) out.push(expiryOf(key, pick, now, warn));
  };
  for (const f of fileReferences(config)) {
    if (f.kind === 'privateKey') continue;
    await add(f.key, f.path, f.kind === 'caBundle');
  }
  const seen = new Set<string>();
  for (const u of credentialUses(config)) {
    const ref = config.credentials[u.credential];
    if (u.use !== 'certificateAndKey' || ref === undefined || !('file' in ref) || seen.has(u.credential))
      continue;
    seen.add(u.credential);
    await add(`credentials.${u.credential}`, ref.file, false);
  }
  return out;
}

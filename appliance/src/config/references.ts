// Everything a validated config points at outside itself, each with the key path that names it:
// files (certificates, keys, CA bundles), directories the appliance writes, and credential names
// used by routes. `check` proves each of them; the health model watches certificate expiry. Pure:
// it only reads the Config.
import type { Config } from './schema.ts';

export type FileKind = 'certificate' | 'privateKey' | 'certificateAndKey' | 'caBundle';

export interface FileReference {
  /** Key path in the config, e.g. "listeners[0].tls.cert". */
  readonly key: string;
  readonly path: string;
  readonly kind: FileKind;
  /** For a certificate: the key path of its private key, so the pair can be matched. */
  readonly pairedWith?: string;
}

export interface DirectoryReference {
  readonly key: string;
  readonly path: string;
}

/** What a credential holds decides how `check` and the health model can look into it. */
export type CredentialUse = 'secret' | 'certificateAndKey' | 'connectionString';

export interface CredentialUseReference {
  /** Key path of the field naming the credential, e.g. "routes[1].clientSecret". */
  readonly key: string;
  /** Name under `credentials:`. */
  readonly credential: string;
  readonly use: CredentialUse;
}

export function fileReferences(config: Config): FileReference[] {
  const out: FileReference[] = [];
  config.listeners.forEach((l, i) => {
    if (l.tls.cert !== undefined) {
      out.push({
        key: `listeners[${i}].tls.cert`,
        path: l.tls.cert,
        kind: 'certificate',
        ...(l.tls.key === undefined ? {} : { pairedWith: `listeners[${i}].tls.key` }),
      });
    }
    if (l.tls.key !== undefined)
      out.push({ key: `listeners[${i}].tls.key`, path: l.tls.key, kind: 'privateKey' });
    if (l.tls.clientCertificates !== undefined) {
      out.push({
        key: `listeners[${i}].tls.clientCertificates.ca`,
        path: l.tls.clientCertificates.ca,
        kind: 'caBundle',
      });
    }
  });
  config.routes.forEach((r, i) => {
    if (r.type === 'smtp' && r.tls.ca !== undefined) {
      out.push({ key: `routes[${i}].tls.ca`, path: r.tls.ca, kind: 'caBundle' });
    }
  });
  if (config.cloud.caFile !== undefined)
    out.push({ key: 'cloud.caFile', path: config.cloud.caFile, kind: 'caBundle' });
  if (config.keyVault !== undefined) {
    out.push({ key: 'keyVault.certificate', path: config.keyVault.certificate, kind: 'certificateAndKey' });
  }
  const admin = config.admin.listener?.tls;
  if (admin?.cert !== undefined) {
    out.push({
      key: 'admin.listener.tls.cert',
      path: admin.cert,
      kind: 'certificate',
      pairedWith: 'admin.listener.tls.key',
    });
  }
  if (admin?.key !== undefined)
    out.push({ key: 'admin.listener.tls.key', path: admin.key, kind: 'privateKey' });
  const syslogCa = config.syslog?.tls?.ca;
  if (syslogCa !== undefined) out.push({ key: 'syslog.tls.ca', path: syslogCa, kind: 'caBundle' });
  return out;
}

export function directoryReferences(config: Config): DirectoryReference[] {
  const out: DirectoryReference[] = [{ key: 'spool.directory', path: config.spool.directory }];
  if (config.admin.listener && config.admin.listener.tls.cert === undefined) {
    out.push({ key: 'admin.listener.tls.directory', path: config.admin.listener.tls.directory });
  }
  config.routes.forEach((r, i) => {
    if (r.type === 'capture') out.push({ key: `routes[${i}].directory`, path: r.directory });
  });
  return out;
}

export function credentialUses(config: Config): CredentialUseReference[] {
  const out: CredentialUseReference[] = [];
  const app = (
    prefix: string,
    a: { clientSecret?: string | undefined; clientCertificate?: string | undefined },
  ) => {
    if (a.clientSecret !== undefined)
      out.push({ key: `${prefix}.clientSecret`, credential: a.clientSecret, use: 'secret' });
    if (a.clientCertificate !== undefined) {
      out.push({
        key: `${prefix}.clientCertificate`,
        credential: a.clientCertificate,
        use: 'certificateAndKey',
      });
    }
  };
  config.routes.forEach((r, i) => {
    const at = `routes[${i}]`;
    if (r.type === 'graph') app(at, r);
    if (r.type === 'acs') {
      if (r.auth.type === 'accessKey') {
        out.push({
          key: `${at}.auth.connectionString`,
          credential: r.auth.connectionString,
          use: 'connectionString',
        });
      } else app(`${at}.auth.app`, r.auth.app);
    }
    if (r.type === 'smtp') {
      if (r.auth.type === 'password')
        out.push({ key: `${at}.auth.password`, credential: r.auth.password, use: 'secret' });
      if (r.auth.type === 'xoauth2') app(`${at}.auth.app`, r.auth.app);
      if (r.clientCertificate !== undefined) {
        out.push({
          key: `${at}.clientCertificate`,
          credential: r.clientCertificate,
          use: 'certificateAndKey',
        });
      }
    }
  });
  return out;
}

// Reads and validates the config once at start. Returns a deeply frozen Config whose relative paths
// are already resolved against the config file's directory (or the working directory for the
// embedded default). A bad file fails with RELAY_CONFIG_INVALID naming every bad key.
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { RelayError } from '../errors.ts';
import { EMBEDDED_DEFAULT_YAML } from './default.ts';
import { type Config, configSchema } from './schema.ts';

export interface LoadedConfig {
  readonly config: Config;
  /** Where the config came from: a file path, or "embedded default". */
  readonly source: string;
}

export interface ConfigIssue {
  /** Dotted key path, e.g. "listeners[0].tls.cert". */
  readonly key: string;
  readonly message: string;
}

export function formatKey(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

export function issuesOf(error: z.ZodError): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        issues.push({
          key: formatKey([...issue.path, k]),
          message: 'unknown key (check spelling and nesting)',
        });
      }
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // A union (credential reference, route type) reports one branch per alternative; show the
      // message of the alternative that came closest (fewest issues), with full paths.
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0] ?? [];
      const allUnknown = issue.errors.every((b) => b.every((i) => i.code === 'unrecognized_keys'));
      if (allUnknown || best.length === 0) {
        issues.push({ key: formatKey(issue.path), message: issue.message });
      } else {
        for (const sub of best) {
          issues.push({ key: formatKey([...issue.path, ...sub.path]), message: sub.message });
        }
      }
    } else {
      issues.push({ key: formatKey(issue.path), message: issue.message });
    }
  }
  return issues;
}

export class ConfigError extends RelayError {
  readonly issues: readonly ConfigIssue[];
  constructor(source: string, issues: ConfigIssue[]) {
    super(
      'RELAY_CONFIG_INVALID',
      `invalid configuration in ${source}:\n${issues.map((i) => `  - ${i.key}: ${i.message}`).join('\n')}`,
    );
    this.issues = issues;
  }
}

/** Validates an already-parsed document; `baseDir` anchors relative paths. */
export function parseConfig(raw: unknown, source: string, baseDir: string): Config {
  // jitless: the config is parsed once, so zod's fast path (a parser generated per object schema
  // through new Function, compiled on first use) costs more than it saves; same result and issues.
  // About 12 ms of CPU at start natively (5%), more under the VM's software emulation (issue 18).
  const result = configSchema.safeParse(raw ?? {}, { jitless: true });
  if (!result.success) throw new ConfigError(source, issuesOf(result.error));
  return deepFreeze(resolvePaths(result.data, baseDir));
}

export function parseConfigText(text: string, source: string, baseDir: string): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new RelayError(
      'RELAY_CONFIG_UNREADABLE',
      `${source} is not valid YAML:\n${doc.errors.map((e) => `  - ${e.message}`).join('\n')}`,
    );
  }
  return parseConfig(doc.toJS(), source, baseDir);
}

export function loadConfig(path?: string): LoadedConfig {
  if (path === undefined) {
    return {
      config: parseConfigText(EMBEDDED_DEFAULT_YAML, 'embedded default', process.cwd()),
      source: 'embedded default',
    };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RelayError('RELAY_CONFIG_UNREADABLE', `cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return { config: parseConfigText(text, path, dirname(resolve(path))), source: path };
}

function abs(baseDir: string, p: string): string {
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

// Every config key that names a file or directory is resolved here, once, so no other module
// needs to know where the config file was.
function resolvePaths(cfg: Config, baseDir: string): Config {
  return {
    ...cfg,
    listeners: cfg.listeners.map((l) => ({
      ...l,
      tls: {
        ...l.tls,
        ...(l.tls.cert === undefined ? {} : { cert: abs(baseDir, l.tls.cert) }),
        ...(l.tls.key === undefined ? {} : { key: abs(baseDir, l.tls.key) }),
        ...(l.tls.clientCertificates === undefined
          ? {}
          : {
              clientCertificates: {
                ...l.tls.clientCertificates,
                ca: abs(baseDir, l.tls.clientCertificates.ca),
              },
            }),
      },
    })),
    routes: cfg.routes.map((r) =>
      r.type === 'capture'
        ? { ...r, directory: abs(baseDir, r.directory) }
        : r.type === 'smtp' && r.tls.ca !== undefined
          ? { ...r, tls: { ...r.tls, ca: abs(baseDir, r.tls.ca) } }
          : r,
    ),
    spool: { ...cfg.spool, directory: abs(baseDir, cfg.spool.directory) },
    admin: resolveAdminPaths(cfg.admin, baseDir),
    cloud: {
      ...cfg.cloud,
      ...(cfg.cloud.caFile === undefined ? {} : { caFile: abs(baseDir, cfg.cloud.caFile) }),
    },
    ...(cfg.keyVault === undefined
      ? {}
      : { keyVault: { ...cfg.keyVault, certificate: abs(baseDir, cfg.keyVault.certificate) } }),
    ...(cfg.syslog?.tls?.ca === undefined
      ? {}
      : { syslog: { ...cfg.syslog, tls: { ...cfg.syslog.tls, ca: abs(baseDir, cfg.syslog.tls.ca) } } }),
    credentials: Object.fromEntries(
      Object.entries(cfg.credentials).map(([k, ref]) => [
        k,
        'file' in ref ? { file: abs(baseDir, ref.file) } : ref,
      ]),
    ),
  };
}

function resolveAdminPaths(admin: Config['admin'], baseDir: string): Config['admin'] {
  const l = admin.listener;
  if (l === undefined) return admin;
  const tls = {
    ...l.tls,
    directory: abs(baseDir, l.tls.directory),
    ...(l.tls.cert === undefined ? {} : { cert: abs(baseDir, l.tls.cert) }),
    ...(l.tls.key === undefined ? {} : { key: abs(baseDir, l.tls.key) }),
  };
  return { ...admin, listener: { ...l, tls } };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

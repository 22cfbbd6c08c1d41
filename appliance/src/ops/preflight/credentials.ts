// Preflight, credentials: every credential a route names exists under `credentials:`; every
// reference resolves offline (environment variable set and non-empty, file present and non-empty,
// Key Vault reference with a keyVault section); and what can be checked without the cloud is
// checked: a certificate credential parses and matches its key, a connection string has its parts.
// Values are never printed.
import { credentialUses } from '../../config/references.ts';
import type { Config } from '../../config/schema.ts';
import { parseConnectionString } from '../../delivery/acs/acs-auth.ts';
import { pairProblem, parsePem, readText } from './files.ts';
import type { PreflightIssue } from './issue.ts';

type Resolved = { value: string } | { issue: PreflightIssue } | { remote: true };

async function resolve(config: Config, name: string, env: NodeJS.ProcessEnv): Promise<Resolved> {
  const ref = config.credentials[name];
  const at = `credentials.${name}`;
  if (ref === undefined) return { issue: { key: at, message: 'missing' } };
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined)
      return { issue: { key: `${at}.env`, message: `environment variable ${ref.env} is not set` } };
    if (v.trim() === '')
      return { issue: { key: `${at}.env`, message: `environment variable ${ref.env} is empty` } };
    return { value: v };
  }
  if ('file' in ref) {
    const read = await readText(ref.file);
    if ('problem' in read) return { issue: { key: `${at}.file`, message: read.problem } };
    if (read.text.trim() === '') return { issue: { key: `${at}.file`, message: `${ref.file} is empty` } };
    return { value: read.text.replace(/\r?\n$/, '') };
  }
  if (config.keyVault === undefined) {
    return {
      issue: { key: `${at}.keyVault`, message: 'refers to Key Vault but the config has no keyVault section' },
    };
  }
  return { remote: true };
}

export async function credentialIssues(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PreflightIssue[]> {
  const issues: PreflightIssue[] = [];
  const names = Object.keys(config.credentials);
  const resolved = new Map<string, Resolved>();
  for (const name of names) {
    const r = await resolve(config, name, env);
    resolved.set(name, r);
    if ('issue' in r) issues.push(r.issue);
  }
  for (const use of credentialUses(config)) {
    const r = resolved.get(use.credential);
    if (r === undefined) {
      issues.push({
        key: use.key,
        message: `no credential named "${use.credential}" in credentials (${names.length > 0 ? `have: ${names.join(', ')}` : 'none defined'})`,
      });
      continue;
    }
    if (!('value' in r)) continue;
    const at = `credentials.${use.credential}`;
    if (use.use === 'certificateAndKey') {
      const pem = parsePem(r.value, { cert: true, key: true });
      for (const p of pem.problems) issues.push({ key: at, message: `(used by ${use.key}) ${p}` });
      const mismatch = pairProblem(pem.certificates[0], pem.key);
      if (mismatch) issues.push({ key: at, message: `(used by ${use.key}) ${mismatch}` });
    }
    if (use.use === 'connectionString') {
      try {
        parseConnectionString(r.value);
      } catch (err) {
        issues.push({ key: at, message: `(used by ${use.key}) ${(err as Error).message}` });
      }
    }
  }
  return issues;
}

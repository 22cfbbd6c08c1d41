// Preflight: everything about a validated config that can be proven without the network, named by
// key path. `check` prints it; `run` refuses to start on it with the same lines. `--online` adds
// online.ts (tokens, an authenticated harmless call, SMTP connect + EHLO + STARTTLS + AUTH).
import type { Config } from '../../config/schema.ts';
import { credentialIssues } from './credentials.ts';
import { fileIssues } from './files.ts';
import { directoryIssues, portIssues } from './host.ts';
import type { PreflightIssue } from './issue.ts';

export { formatIssues, PreflightError, type PreflightIssue } from './issue.ts';

export interface PreflightOptions {
  /** Check that listen ports are free (off when the caller is the running appliance itself). */
  readonly ports?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

export async function preflight(config: Config, opts: PreflightOptions = {}): Promise<PreflightIssue[]> {
  return [
    ...(await fileIssues(config)),
    ...(await credentialIssues(config, opts.env)),
    ...(await directoryIssues(config)),
    ...(opts.ports === false ? [] : await portIssues(config)),
  ];
}

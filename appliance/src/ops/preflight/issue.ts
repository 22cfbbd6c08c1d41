// Preflight's finding: one problem with the config's view of the world, named by its key path.
import { RelayError } from '../../errors.ts';

export interface PreflightIssue {
  /** Key path in the config, e.g. "listeners[0].tls.cert" or "credentials.graph-secret.env". */
  readonly key: string;
  readonly message: string;
}

/** `check` and `run` refuse with this: the same lines, one per problem. */
export class PreflightError extends RelayError {
  readonly issues: readonly PreflightIssue[];
  constructor(source: string, issues: readonly PreflightIssue[]) {
    super('RELAY_CONFIG_REFERENCE', `${source} names things that are not right:\n${formatIssues(issues)}`);
    this.issues = issues;
  }
}

export function formatIssues(issues: readonly PreflightIssue[]): string {
  return issues.map((i) => `  - ${i.key}: ${i.message}`).join('\n');
}

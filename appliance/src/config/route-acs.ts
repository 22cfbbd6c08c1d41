// Config of an Azure Communication Services Email route: where the Communication resource is, how
// the appliance proves itself (access key in a connection string, or an Entra app with the
// Communication and Email Service Owner role), which provisioned sender mail goes out as, and the
// service limits the transport enforces before it sends.
import { z } from 'zod';
import { appCredential } from './app-credential.ts';
import { tokenScope } from './cloud.ts';
import { duration, emailAddress, name, size } from './fields.ts';

/** api-versions the transport speaks; 2025-09-01 is the latest GA with inline contentId. */
export const ACS_API_VERSIONS = ['2025-09-01'] as const;

export const acsAuth = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('accessKey'),
    /** Name of a credential holding `endpoint=https://<res>.communication.azure.com/;accessKey=<base64>`. */
    connectionString: name,
  }),
  z.strictObject({
    type: z.literal('entra'),
    app: appCredential,
    /**
     * Token scope. Default: https://communication.azure.com/.default (the ACS resource). Set it when
     * the endpoint is a gateway or private endpoint whose resource differs.
     */
    scope: tokenScope.optional(),
  }),
]);

export const acsRouteFields = {
  type: z.literal('acs'),
  /**
   * https://<resource>.communication.azure.com. Required with Entra auth; with an access key the
   * connection string's endpoint is used unless this is set.
   */
  endpoint: z.url().optional(),
  auth: acsAuth,
  apiVersion: z.enum(ACS_API_VERSIONS).default('2025-09-01'),
  /** Provisioned sender (MailFrom username on a linked domain) used when the From is not one. */
  senderAddress: emailAddress,
  /** Further provisioned senders that may go out as themselves (compared case-insensitively). */
  provisionedSenders: z.array(emailAddress).default([]),
  /** When the From is rewritten, put the original From into Reply-To (if the message has none). */
  replyToOriginalSender: z.boolean().default(true),
  /** Whole JSON request limit (base64 attachments included); ACS allows 10 MB unless raised. */
  maxRequestSize: size.default(10 * 1024 * 1024),
  /** Recipients (To + Cc + Bcc) per send request; larger legs are split. */
  maxRecipientsPerRequest: z.number().int().min(1).max(50).default(50),
  /** Extra header names copied from the message into `headers` (X-* headers always are). */
  passHeaders: z.array(z.string().regex(/^[!-9;-~]+$/)).default([]),
  userEngagementTrackingDisabled: z.boolean().default(true),
  /** Timeout of each HTTP request (send, status poll). */
  requestTimeout: duration.default(30_000),
  /** Shortest wait between status polls (the service's retry-after wins when longer). */
  pollInterval: duration.default(1_000),
  /** Give up waiting for a terminal status after this; the next attempt resumes the same operation. */
  pollTimeout: duration.default(120_000),
};

/** Cross-field checks of an acs route, run by the config schema; paths are inside the route. */
export function acsRouteIssues(route: {
  endpoint?: string | undefined;
  auth: { type: 'accessKey' | 'entra' };
}): { path: readonly string[]; message: string }[] {
  const issues: { path: readonly string[]; message: string }[] = [];
  if (route.auth.type === 'entra' && route.endpoint === undefined) {
    issues.push({
      path: ['endpoint'],
      message: 'required with Entra auth (https://<resource>.communication.azure.com)',
    });
  }
  if (route.endpoint !== undefined && URL.canParse(route.endpoint)) {
    // https only, loopback included: the simulator in the tests serves https with the test CA.
    if (new URL(route.endpoint).protocol !== 'https:') {
      issues.push({ path: ['endpoint'], message: 'must use https' });
    }
  }
  return issues;
}

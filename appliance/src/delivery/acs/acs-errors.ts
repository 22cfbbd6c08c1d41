// Classification rows for the acs transport; classifyAcsFailure (end of file) tries them
// before the generic rows of failure.ts.
// Facts come from the send/poll responses (HTTP status + `error.code` / x-ms-error-code) or from a
// send operation that ended Failed (serviceCode only, no HTTP status).
import { type ClassificationRow, classifierFor } from '../failure.ts';

export const ACS_ERROR_ROWS: readonly ClassificationRow[] = [
  {
    when: { transport: 'acs', serviceCode: 'DomainNotLinked' },
    outcome: 'permanent',
    code: 'RELAY_ACS_SENDER_NOT_ALLOWED',
    hint: "set the route's senderAddress to a MailFrom username of a domain linked to the Communication resource",
    fallbackEligible: true,
  },
  {
    when: { transport: 'acs', serviceCode: 'InvalidSenderUserName' },
    outcome: 'permanent',
    code: 'RELAY_ACS_SENDER_NOT_ALLOWED',
    hint: "set the route's senderAddress (or provisionedSenders) to a sender username provisioned on the domain",
    fallbackEligible: true,
  },
  {
    when: { transport: 'acs', serviceCode: 'EmailDropped' },
    outcome: 'permanent',
    code: 'RELAY_ACS_DROPPED',
    hint: 'ACS gave up delivering; see the Email operational logs of the Communication resource',
  },
  // Wrong or rotated access key, or the Entra app lacks its role: fixing config must not lose mail.
  {
    when: { transport: 'acs', httpStatus: 401 },
    outcome: 'transient',
    code: 'RELAY_ACS_AUTH_FAILED',
    hint: 'check the access key in the connection string credential, or the Entra app and its token',
  },
  {
    when: { transport: 'acs', httpStatus: 403 },
    outcome: 'transient',
    code: 'RELAY_ACS_AUTH_FAILED',
    hint: 'give the Entra app the Communication and Email Service Owner role on the Communication resource',
  },
  {
    when: { transport: 'acs', httpStatus: 413 },
    outcome: 'permanent',
    code: 'RELAY_ACS_TOO_LARGE',
    hint: 'ACS takes 10 MB per request (base64 included); route large mail to Graph or SMTP',
    fallbackEligible: true,
  },
  { when: { transport: 'acs', httpStatus: 400 }, outcome: 'permanent', code: 'RELAY_ACS_REJECTED' },
];

/** Judges a acs failure: the rows above, then the generic rows. */
export const classifyAcsFailure = classifierFor(ACS_ERROR_ROWS);

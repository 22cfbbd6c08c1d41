// Classification rows for the smtp transport; classifySmtpFailure (end of file) tries them
// before the generic rows of failure.ts.
// Facts are the smarthost's reply (basic code + RFC 3463 enhanced code + text) or the client's
// error code (ETLS, EAUTH, ...) passed as errno.
import { type ClassificationRow, classifierFor } from '../failure.ts';

export const SMTP_ERROR_ROWS: readonly ClassificationRow[] = [
  {
    when: { transport: 'smtp', smtpEnhanced: '5.7.68' },
    outcome: 'permanent',
    code: 'RELAY_SMTP_DIRECT_SEND_REJECTED',
    hint: 'the tenant has RejectDirectSend on: use the exo-connector preset with an inbound connector',
    fallbackEligible: true,
  },
  {
    when: { transport: 'smtp', smtpEnhanced: '5.5.105' },
    outcome: 'permanent',
    code: 'RELAY_SMTP_EXTERNAL_NOT_ALLOWED',
    hint: 'HVE sends to internal recipients only: route external recipients to ACS or Graph',
    fallbackEligible: true,
  },
  {
    when: { transport: 'smtp', smtpEnhanced: '5.7.30' },
    outcome: 'transient',
    code: 'RELAY_SMTP_AUTH_FAILED',
    hint: 'Basic SMTP AUTH is off for this tenant or mailbox: use XOAUTH2 (auth.type xoauth2)',
  },
  // Our credentials are wrong or expired: keep the mail while the operator fixes config.
  {
    when: { transport: 'smtp', errno: 'EAUTH' },
    outcome: 'transient',
    code: 'RELAY_SMTP_AUTH_FAILED',
    hint: 'check the credential: password, XOAUTH2 app (SMTP.SendAsApp consent, mailbox access) or client certificate',
  },
  {
    when: { transport: 'smtp', smtpCode: [530, 535] },
    outcome: 'transient',
    code: 'RELAY_SMTP_AUTH_FAILED',
    hint: 'check the credential: password, XOAUTH2 app (SMTP.SendAsApp consent, mailbox access) or client certificate',
  },
  {
    when: { transport: 'smtp', errno: ['ETLS', 'ENOSTARTTLS', 'CERT'] },
    outcome: 'transient',
    code: 'RELAY_SMTP_TLS',
    hint: "check the smarthost's certificate (name, chain; add tls.ca for a private CA) and its STARTTLS support",
  },
  {
    when: { transport: 'smtp', smtpCode: 552, messageIncludes: 'size' },
    outcome: 'permanent',
    code: 'RELAY_SMTP_TOO_LARGE',
    fallbackEligible: true,
  },
  {
    when: { transport: 'smtp', smtpEnhanced: '5.3.4' },
    outcome: 'permanent',
    code: 'RELAY_SMTP_TOO_LARGE',
    fallbackEligible: true,
  },
  {
    when: { transport: 'smtp', smtpCode: [400, 499] },
    outcome: 'transient',
    code: 'RELAY_DELIVERY_TRANSIENT',
  },
  { when: { transport: 'smtp', smtpCode: [500, 599] }, outcome: 'permanent', code: 'RELAY_SMTP_REJECTED' },
  // Client-side codes: connection and protocol trouble is transient.
  {
    when: { transport: 'smtp', errno: ['ECONNECTION', 'ESOCKET', 'EDNS', 'EPROTOCOL', 'ETIMEDOUT'] },
    outcome: 'transient',
    code: 'RELAY_NETWORK',
  },
];

/** Judges a smtp failure: the rows above, then the generic rows. */
export const classifySmtpFailure = classifierFor(SMTP_ERROR_ROWS);

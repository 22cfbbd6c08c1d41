// The one error-code registry of the appliance. Every error that crosses a room boundary (config,
// receiver, spool, routing, delivery, operator CLI) carries one of these codes; callers match on
// `.code`, never on message text. `docs/errors.md` documents the same table and a test keeps the two
// in sync, so adding a code means adding a row there too.
//
// `smtp` is the reply a device sees when the error reaches an SMTP client: basic code, enhanced
// status code (RFC 3463) and whether it is temporary (4xx) or permanent (5xx).

export interface SmtpReply {
  readonly code: number;
  readonly enhanced: string;
}

export interface ErrorSpec {
  /** Short statement of what went wrong, in operator language. */
  readonly summary: string;
  /** Reply sent to an SMTP client when this error ends a command, if it ever reaches one. */
  readonly smtp?: SmtpReply;
}

export const ErrorCodes = {
  // --- configuration ------------------------------------------------------------------------------
  RELAY_CONFIG_INVALID: { summary: 'the configuration file does not match the schema' },
  RELAY_CONFIG_UNREADABLE: { summary: 'the configuration file cannot be read or is not YAML' },
  RELAY_CONFIG_REFERENCE: { summary: 'a file, route or identity named in the configuration does not exist' },

  // --- receiver (SMTP intake) ---------------------------------------------------------------------
  RELAY_ACCESS_DENIED: {
    summary: 'the client address is not allowed to connect',
    smtp: { code: 554, enhanced: '5.7.1' },
  },
  RELAY_AUTH_REQUIRED: {
    summary: 'the client must authenticate before sending',
    smtp: { code: 530, enhanced: '5.7.0' },
  },
  RELAY_AUTH_FAILED: { summary: 'SMTP AUTH credentials were wrong', smtp: { code: 535, enhanced: '5.7.8' } },
  RELAY_AUTH_BLOCKED: {
    summary: 'too many failed AUTH attempts from this address; temporarily blocked',
    smtp: { code: 421, enhanced: '4.7.0' },
  },
  RELAY_TLS_REQUIRED: {
    summary: 'this command needs TLS on this listener',
    smtp: { code: 530, enhanced: '5.7.0' },
  },
  RELAY_SENDER_DENIED: {
    summary: 'the identity may not send as this MAIL FROM address',
    smtp: { code: 550, enhanced: '5.7.1' },
  },
  RELAY_ADDRESS_INVALID: {
    summary: 'a MAIL FROM or RCPT TO address has invalid UTF-8 or control characters',
    smtp: { code: 501, enhanced: '5.1.3' },
  },
  RELAY_RECIPIENT_DENIED: {
    summary: 'the identity may not send to this recipient',
    smtp: { code: 550, enhanced: '5.7.1' },
  },
  RELAY_TOO_MANY_RECIPIENTS: {
    summary: 'too many recipients for one message',
    smtp: { code: 452, enhanced: '4.5.3' },
  },
  RELAY_MESSAGE_TOO_LARGE: {
    summary: 'the message exceeds the size limit',
    smtp: { code: 552, enhanced: '5.3.4' },
  },
  RELAY_ROUTE_CANNOT_CARRY: {
    summary: 'no route of the plan (route and fallbacks) can carry this message: size, body or recipients',
    smtp: { code: 552, enhanced: '5.3.4' },
  },
  RELAY_RATE_LIMITED: {
    summary: 'the identity is over its message rate; try again later',
    smtp: { code: 451, enhanced: '4.7.1' },
  },
  RELAY_CONTENT_REJECTED: {
    summary: 'the message content violates a protocol rule (bare CR/LF, header limits)',
    smtp: { code: 550, enhanced: '5.5.2' },
  },
  RELAY_HEADER_TOO_LARGE: {
    summary: 'the message header block exceeds the listener limit',
    smtp: { code: 552, enhanced: '5.3.4' },
  },
  RELAY_LINE_TOO_LONG: {
    summary: 'a message line exceeds the listener line length limit',
    smtp: { code: 550, enhanced: '5.6.0' },
  },
  RELAY_CERT_REJECTED: {
    summary: 'the client certificate did not verify against the CA bundle or matches no identity',
    smtp: { code: 554, enhanced: '5.7.1' },
  },
  RELAY_SESSION_TIMEOUT: {
    summary: 'the connection exceeded the listener total session time',
    smtp: { code: 421, enhanced: '4.4.2' },
  },
  RELAY_UNKNOWN_COMMANDS: {
    summary: 'too many unrecognised SMTP commands on one connection',
    smtp: { code: 421, enhanced: '4.7.0' },
  },
  RELAY_PROTOCOL_ERROR: {
    summary: 'smtp-server refused a command (syntax, command order, early talker, line too long)',
  },
  RELAY_PROXY_REFUSED: {
    summary: 'a PROXY protocol header was missing, malformed, or sent by a source that is not trusted',
    smtp: { code: 421, enhanced: '4.7.0' },
  },
  RELAY_RULE_REJECTED: {
    summary: 'a routing rule rejected the message',
    smtp: { code: 550, enhanced: '5.7.1' },
  },
  RELAY_SHUTTING_DOWN: {
    summary: 'the appliance is shutting down; try again later',
    smtp: { code: 421, enhanced: '4.3.2' },
  },

  // --- spool --------------------------------------------------------------------------------------
  RELAY_SPOOL_WRITE: {
    summary: 'the message could not be written durably to the spool (disk full, I/O error)',
    smtp: { code: 452, enhanced: '4.3.1' },
  },
  RELAY_SPOOL_CORRUPT: { summary: 'a spool entry could not be parsed and was quarantined' },
  RELAY_SPOOL_NOT_FOUND: { summary: 'no spool entry with that id' },

  // --- routing ------------------------------------------------------------------------------------
  RELAY_ROUTE_UNKNOWN: { summary: 'a message was routed to a route that is not configured' },

  // --- delivery (transport-neutral) ---------------------------------------------------------------
  RELAY_DELIVERY_TRANSIENT: { summary: 'delivery failed for now and will be retried' },
  RELAY_DELIVERY_PERMANENT: { summary: 'delivery failed permanently' },
  RELAY_DELIVERY_EXPIRED: { summary: 'the message stayed undeliverable past the retry schedule' },
  RELAY_NETWORK: { summary: 'a network error reached the remote service' },
  RELAY_TIMEOUT: { summary: 'the remote service did not answer in time' },
  RELAY_THROTTLED: { summary: 'the remote service throttled the request' },
  RELAY_CREDENTIAL_UNAVAILABLE: { summary: 'a credential could not be read from its source' },
  RELAY_TOKEN_FAILED: { summary: 'an access token could not be obtained from Entra ID' },

  // --- delivery: Microsoft Graph ------------------------------------------------------------------
  RELAY_GRAPH_SEND_AS_DENIED: { summary: 'Graph refused to send as this mailbox (ErrorSendAsDenied)' },
  RELAY_GRAPH_ACCESS_DENIED: { summary: 'Graph denied access to the mailbox (RBAC or access policy scope)' },
  RELAY_GRAPH_MAILBOX_NOT_ENABLED: { summary: 'the sending mailbox is not an Exchange Online mailbox' },
  RELAY_GRAPH_MESSAGE_TOO_LARGE: { summary: 'the message exceeds the mailbox MaxSendSize' },
  RELAY_GRAPH_PERMISSION_MISSING: { summary: 'the app lacks a Graph permission this path needs' },
  RELAY_GRAPH_MAILBOX_UNKNOWN: { summary: 'Graph does not know the sending mailbox (ErrorInvalidUser)' },
  RELAY_GRAPH_BODY_TOO_LARGE: {
    summary: 'the message body is larger than a Graph draft request can carry (only attachments upload)',
  },
  RELAY_GRAPH_REQUEST_TOO_LARGE: { summary: 'a Graph request exceeded the 4 MB request limit (413)' },
  RELAY_GRAPH_NO_MAILBOX: { summary: 'no mailbox to send from: null sender and no fixed route mailbox' },
  RELAY_GRAPH_TOKEN_REJECTED: { summary: 'Graph refused the access token (401)' },

  // --- delivery: ACS Email ------------------------------------------------------------------------
  RELAY_ACS_REJECTED: { summary: 'ACS Email refused the message' },
  RELAY_ACS_TOO_LARGE: { summary: 'the message exceeds the ACS Email size limit' },
  RELAY_ACS_AUTH_FAILED: {
    summary: 'ACS Email refused the credentials (access key, or the Entra app lacks its role)',
  },
  RELAY_ACS_SENDER_NOT_ALLOWED: {
    summary: 'the sender address is not a provisioned ACS sender on a linked domain',
  },
  RELAY_ACS_DROPPED: { summary: 'ACS Email accepted the message but its send operation ended Failed' },
  RELAY_ACS_MIME_INVALID: { summary: 'the message could not be converted to an ACS Email request' },

  // --- delivery: SMTP smarthost -------------------------------------------------------------------
  RELAY_SMTP_REJECTED: { summary: 'the smarthost rejected the message' },
  RELAY_SMTP_AUTH_FAILED: { summary: 'the smarthost refused our SMTP AUTH (password, XOAUTH2 token)' },
  RELAY_SMTP_TLS: {
    summary: 'TLS with the smarthost failed (untrusted or mismatched certificate, no STARTTLS offered)',
  },
  RELAY_SMTP_TOO_LARGE: { summary: 'the smarthost refused the message size' },
  RELAY_SMTP_DIRECT_SEND_REJECTED: {
    summary: 'Exchange Online refused Direct Send (RejectDirectSend is on); use the connector preset',
  },
  RELAY_SMTP_EXTERNAL_NOT_ALLOWED: {
    summary: 'the smarthost only accepts internal recipients (HVE, Direct Send)',
  },

  // --- operator surface ---------------------------------------------------------------------------
  RELAY_USAGE: { summary: 'the command line is wrong' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ErrorCodes;

export interface RelayErrorOptions {
  cause?: unknown;
  /** Overrides the registry's SMTP reply code (e.g. 421 to close the connection). */
  responseCode?: number;
  /** Overrides the registry's enhanced status code (a routing rule's own reply, e.g. 5.3.4). */
  enhanced?: string;
  /** Extra structured detail for logs; never put secrets here. */
  detail?: Record<string, unknown>;
}

/**
 * An error with a registry code. `responseCode` is what smtp-server sends to the client when this
 * error is passed to a handler callback; `temporary` says whether the client should retry.
 */
export class RelayError extends Error {
  readonly code: ErrorCode;
  readonly responseCode: number | undefined;
  readonly enhanced: string | undefined;
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, options: RelayErrorOptions = {}) {
    const spec: ErrorSpec = ErrorCodes[code];
    const reply = spec.smtp;
    const text = message ?? spec.summary;
    const enhanced = options.enhanced ?? reply?.enhanced;
    // smtp-server writes `${responseCode} ${message}`; leading with the enhanced code gives RFC 3463
    // replies without turning on its ENHANCEDSTATUSCODES extension globally.
    super(
      enhanced ? `${enhanced} ${text}` : text,
      options.cause === undefined ? {} : { cause: options.cause },
    );
    this.name = 'RelayError';
    this.code = code;
    this.responseCode = options.responseCode ?? reply?.code;
    this.enhanced = enhanced;
    this.detail = options.detail;
  }

  get temporary(): boolean {
    return this.responseCode !== undefined && this.responseCode < 500;
  }
}

export function isRelayError(err: unknown, code?: ErrorCode): err is RelayError {
  return err instanceof RelayError && (code === undefined || err.code === code);
}

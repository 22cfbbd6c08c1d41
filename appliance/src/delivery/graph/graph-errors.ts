// Classification rows for the graph transport; classifyGraphFailure (end of file) tries them
// before the generic rows of failure.ts.
// Each hint tells the operator what to change in the tenant. Sources: microsoft-mail-apis.md A3-A7.
import { type ClassificationRow, classifierFor } from '../failure.ts';

/** Mail.ReadWrite (Application) permission id, for the hint. */
const MAIL_READWRITE_ID = 'e2a3a72e-5f79-4c64-b1b1-878b674786c9';

const DRAFT_STEPS = ['createDraft', 'attachment', 'createUploadSession', 'deleteMessage'] as const;

export const GRAPH_ERROR_ROWS: readonly ClassificationRow[] = [
  {
    when: { transport: 'graph', serviceCode: 'ErrorSendAsDenied' },
    outcome: 'permanent',
    code: 'RELAY_GRAPH_SEND_AS_DENIED',
    hint:
      'the sending mailbox may not send as the From: address: grant it SendAs ' +
      '(Add-RecipientPermission -Identity <From address> -Trustee <sending mailbox> -AccessRights SendAs), ' +
      'or set the route rewriteFrom: true, or send as the From address itself',
  },
  {
    when: {
      transport: 'graph',
      serviceCode: 'ErrorAccessDenied',
      messageIncludes: 'Access to OData is disabled',
    },
    outcome: 'permanent',
    code: 'RELAY_GRAPH_ACCESS_DENIED',
    hint:
      'an ApplicationAccessPolicy or RBAC for Applications scope excludes this mailbox: add it to the ' +
      "policy's group or the management scope (check with Test-ApplicationAccessPolicy / " +
      'Test-ServicePrincipalAuthorization; changes take 30 min to 2 h)',
  },
  {
    when: { transport: 'graph', serviceCode: 'ErrorAccessDenied', operation: DRAFT_STEPS },
    outcome: 'permanent',
    code: 'RELAY_GRAPH_PERMISSION_MISSING',
    fallbackEligible: true,
    hint:
      `large messages use drafts and upload sessions, which need Mail.ReadWrite: grant the app the ` +
      `Application permission Mail.ReadWrite (${MAIL_READWRITE_ID}) with admin consent, or the EXO role ` +
      `"Application Mail.ReadWrite" in its management scope; or set largeMessages: false and a fallback route`,
  },
  // The app lacks Mail.Send: a fix in Entra or Exchange, after which the waiting mail must still go.
  {
    when: { transport: 'graph', serviceCode: 'ErrorAccessDenied' },
    outcome: 'transient',
    code: 'RELAY_GRAPH_ACCESS_DENIED',
    hint:
      'the app lacks Mail.Send for this mailbox: grant Application Mail.Send (b633e1c5-b582-4048-a93e-9f11b44c7e96) ' +
      'or New-ManagementRoleAssignment -App <appId> -Role "Application Mail.Send" -CustomResourceScope <scope ' +
      'covering this mailbox>',
  },
  {
    when: { transport: 'graph', serviceCode: 'MailboxNotEnabledForRESTAPI' },
    outcome: 'permanent',
    code: 'RELAY_GRAPH_MAILBOX_NOT_ENABLED',
    hint:
      'the sending address has no Exchange Online mailbox (unlicensed, soft-deleted, guest or on-premises): ' +
      'license it, or set the route mailbox / identity sendAs to a cloud mailbox',
  },
  {
    when: { transport: 'graph', serviceCode: 'ErrorInvalidUser' },
    outcome: 'permanent',
    code: 'RELAY_GRAPH_MAILBOX_UNKNOWN',
    hint: 'no such user in the tenant: check the envelope sender or set the route mailbox to an existing mailbox',
  },
  {
    when: { transport: 'graph', serviceCode: 'ErrorMessageSizeExceeded' },
    outcome: 'permanent',
    code: 'RELAY_GRAPH_MESSAGE_TOO_LARGE',
    fallbackEligible: true,
    hint: 'raise the mailbox limit: Set-Mailbox <sending mailbox> -MaxSendSize 150MB -MaxReceiveSize 150MB',
  },
  {
    when: { transport: 'graph', httpStatus: 413 },
    outcome: 'permanent',
    code: 'RELAY_GRAPH_REQUEST_TOO_LARGE',
    fallbackEligible: true,
    hint:
      "a request passed Graph's ~4 MB request limit. A message body must fit in one draft request (only attachments " +
      "use upload sessions): lower the route's maxBodySize or sendMailMaxSize, set oversizeBody: attach, or give it a fallback",
  },
  {
    when: { transport: 'graph', serviceCode: 'ErrorItemNotFound', operation: 'uploadChunk' },
    outcome: 'transient',
    code: 'RELAY_DELIVERY_TRANSIENT',
    hint: 'the upload session expired; the next attempt starts a new draft',
  },
  {
    when: { transport: 'graph', httpStatus: 401 },
    outcome: 'transient',
    code: 'RELAY_GRAPH_TOKEN_REJECTED',
    hint:
      'Graph refused a fresh token: check the tenantId and the cloud preset (token audience) and that the app ' +
      'still exists with admin consent',
  },
  {
    when: { transport: 'graph', httpStatus: 429 },
    outcome: 'transient',
    code: 'RELAY_THROTTLED',
    hint: 'Graph throttled this app+mailbox; if it persists lower messagesPerMinute or mailboxConcurrency',
  },
  {
    when: { transport: 'graph', httpStatus: [400, 499] },
    outcome: 'permanent',
    code: 'RELAY_DELIVERY_PERMANENT',
  },
];

/** Judges a graph failure: the rows above, then the generic rows. */
export const classifyGraphFailure = classifierFor(GRAPH_ERROR_ROWS);

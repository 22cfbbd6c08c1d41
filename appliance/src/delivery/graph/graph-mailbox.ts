// Graph transport room: which mailbox sends a message. Pure, so `route explain` shows the same
// mailbox the transport will use.

/** Identity/rule sendAs first, then the route's fixed mailbox, then the envelope sender; none for <>. */
export function graphMailbox(
  route: { readonly mailbox?: string | undefined },
  job: { readonly sendAs?: string | undefined; readonly mailFrom: string },
): string | undefined {
  const m = job.sendAs ?? route.mailbox ?? job.mailFrom;
  return m === '' ? undefined : m;
}

// A spool header for tests of the spool itself: one message from a@ to b@ (by default), one pending
// delivery on route `local`, as the receiver writes it.
import type { SpoolHeader } from '../../appliance/src/spool/record.ts';

export function pendingHeader(
  id: string,
  opts: { receivedAt?: number; recipients?: string[] } = {},
): SpoolHeader {
  const recipients = opts.recipients ?? ['b@contoso.com'];
  return {
    version: 1,
    id,
    receivedAt: opts.receivedAt ?? 0,
    envelope: { mailFrom: 'a@contoso.com', rcptTo: recipients },
    identity: 'scanners',
    sourceIp: '10.0.0.5',
    listener: 'lan',
    deliveries: [
      { route: 'local', recipients, rule: 'default', status: 'pending', attempts: [], nextAttemptAt: 0 },
    ],
  };
}

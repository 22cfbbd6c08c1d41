// The human views of `queue|dead list|show`: aligned columns under a header, ISO 8601 UTC times, ages
// relative to an injected clock. Expected text written out by hand.
import { describe, expect, it } from 'vitest';
import { formatList, formatShow } from '../../../appliance/src/cli/queue.ts';
import { age, table } from '../../../appliance/src/cli/table.ts';

const NOW = Date.parse('2026-12-03T06:33:15.000Z');

describe('queue and dead-letter views', () => {
  it('list: one aligned row per message, received time in ISO with its age, next attempt with its wait', () => {
    const lines = formatList(
      [
        {
          id: '0000000aa-0000-00000001',
          receivedAt: '2026-12-03T06:30:00.000Z',
          from: 'mfd@contoso.com',
          recipients: 2,
          size: 1536,
          identity: 'scanners',
          legs: [
            {
              route: 'graph',
              status: 'pending',
              recipients: ['a@contoso.com', 'b@contoso.com'],
              attempts: 2,
              nextAttemptAt: '2026-12-03T06:35:00.000Z',
              lastError: 'RELAY_THROTTLED HTTP 429',
            },
          ],
        },
        {
          id: '0000000ab-0000-00000002',
          receivedAt: '2026-12-01T04:00:00.000Z',
          from: '',
          recipients: 1,
          size: 20_000_000,
          identity: 'apps',
          legs: [
            {
              route: 'acs',
              status: 'dead',
              recipients: ['x@fabrikam.com'],
              attempts: 1,
              deadReason: 'RELAY_DELIVERY_PERMANENT: too large',
            },
          ],
        },
      ],
      NOW,
    );
    expect(lines).toEqual([
      'ID                       RECEIVED              AGE    SIZE    FROM               RCPT  LEGS',
      '0000000aa-0000-00000001  2026-12-03T06:30:00Z  3m15s  1.5KB   <mfd@contoso.com>  2     graph:pending(2 tries) next 2026-12-03T06:35:00Z (in 1m45s) last: RELAY_THROTTLED HTTP 429',
      '0000000ab-0000-00000002  2026-12-01T04:00:00Z  2d02h  19.1MB  <>                 1     acs:dead(1 tries) RELAY_DELIVERY_PERMANENT: too large',
    ]);
    expect(formatList([], NOW)).toEqual(['(empty)']);
  });

  it('show: the envelope as fields, then a table of deliveries and one of attempts', () => {
    const lines = formatShow(
      {
        version: 1,
        id: '0000000aa-0000-00000001',
        receivedAt: Date.parse('2026-12-03T06:30:00.000Z'),
        envelope: { mailFrom: 'mfd@contoso.com', rcptTo: ['a@contoso.com', 'x@fabrikam.com'] },
        identity: 'scanners',
        sourceIp: '10.1.2.3',
        listener: 'smtp',
        heloName: 'mfd-3f',
        subject: 'Scan from MFD',
        size: 1536,
        deliveries: [
          {
            route: 'graph',
            recipients: ['a@contoso.com'],
            rule: 'default',
            status: 'pending',
            nextAttemptAt: Date.parse('2026-12-03T06:35:00.000Z'),
            attempts: [
              {
                at: '2026-12-03T06:30:01.000Z',
                route: 'graph',
                outcome: 'transient',
                code: 'RELAY_THROTTLED',
                reason: 'HTTP 429',
                durationMs: 120,
              },
            ],
          },
          {
            route: 'smarthost',
            via: ['acs'],
            recipients: ['x@fabrikam.com'],
            rule: 'external',
            status: 'delivered',
            nextAttemptAt: 0,
            attempts: [],
          },
        ],
      },
      NOW,
    );
    expect(lines).toEqual([
      'id:        0000000aa-0000-00000001',
      'received:  2026-12-03T06:30:00Z (3m15s ago)',
      'from:      <mfd@contoso.com>',
      'to:        a@contoso.com, x@fabrikam.com',
      'identity:  scanners',
      'source:    10.1.2.3 on listener smtp (HELO mfd-3f)',
      'subject:   Scan from MFD',
      'size:      1.5KB (1536 bytes)',
      '',
      'ROUTE                STATUS     TRIES  NEXT ATTEMPT                     RECIPIENTS      REASON',
      'graph                pending    1      2026-12-03T06:35:00Z (in 1m45s)  a@contoso.com',
      'smarthost (via acs)  delivered  0      -                                x@fabrikam.com',
      '',
      'ATTEMPT AT            AGO    ROUTE  OUTCOME    TOOK   CODE             REASON',
      '2026-12-03T06:30:01Z  3m14s  graph  transient  120ms  RELAY_THROTTLED  HTTP 429',
    ]);
  });

  it('ages read as their two largest units', () => {
    expect([0, 45_000, 192_000, 7_500_000, 273_600_000].map(age)).toEqual([
      '0s',
      '45s',
      '3m12s',
      '2h05m',
      '3d04h',
    ]);
    expect(table(['A', 'BB'], [['xxx', 'y']])).toEqual(['A    BB', 'xxx  y']);
  });
});

// The Graph transport at the documented size thresholds (reference A2/A3: direct attachments "under
// 3 MB", upload sessions "3 MB to 150 MB", 4 MB per request and per chunk), against the simulator
// reading Microsoft's "MB" both ways: 1 MiB and 1,000,000 bytes. The docs never say which, so the
// transport must deliver every size under both readings rather than bet on one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Harness,
  job,
  startHarness,
  writeBlob,
  writeMessage,
} from '../../../helpers/sim/graph-harness.ts';

const READINGS = { binary: 1_048_576, decimal: 1_000_000 } as const;

// Sizes around both readings of the 3 MB boundary: below both, between them, above both.
const SIZES = [2_900_000, 3_000_000, 3_100_000, 3_145_728, 3_300_000];

describe.each(Object.entries(READINGS))('Graph size thresholds, "MB" read as %s', (_name, megabyte) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ graph: { messagesPerMinute: 100_000, megabyte } });
  });
  afterAll(async () => {
    await h.close();
  });

  it.each(SIZES)('delivers a message with a %i-byte attachment intact', async (size) => {
    const t = h.transport({ messagesPerMinute: 6000 });
    const blob = await writeBlob(h.dir, `att-${size}.bin`, size);
    const msg = await writeMessage(h.dir, `att-${size}`, {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      subject: `attachment ${size}`,
      text: 'x',
      attachments: [{ filename: 'scan.bin', path: blob.path }],
    });
    const out = await t.deliver(job(msg));
    expect(out, JSON.stringify(out)).toMatchObject({ kind: 'delivered' });
    const got = h.graph.delivered.find((d) => d.subject === `attachment ${size}`);
    expect(got?.attachments.map((a) => [a.size, a.sha256])).toEqual([[size, blob.sha256]]);
    expect(h.graph.stats.largestRequest).toBeLessThanOrEqual(h.graph.limits.request);
  });
});

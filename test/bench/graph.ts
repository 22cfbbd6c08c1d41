// Graph delivery benchmarks (issue 4). (a) Peak RSS of a process relaying one 1 MB message versus one
// 150 MB message through the draft + upload-session path (target: difference <= 32 MB). (b) Against
// the Graph simulator's per-mailbox limits, achieved message rate versus the allowed rate for several
// mailboxes at once (target >= 95%, zero requests over the concurrency limit).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import {
  job,
  SECRET,
  simChildCloud,
  startHarness,
  writeBlob,
  writeMessage,
} from '../helpers/sim/graph-harness.ts';

const run = promisify(execFile);
const MB = 1024 * 1024;

export interface BenchFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly target?: string;
  readonly pass?: boolean;
  readonly note?: string;
}

async function rssOf(size: number): Promise<{ maxRssBytes: number; ms: number; messageBytes: number }> {
  const h = await startHarness({
    graph: { messagesPerMinute: 100_000 },
    mailboxes: [{ address: 'scanner@contoso.com', maxSendSize: 160 * MB }],
  });
  try {
    // Attachment sized so the whole MIME message (base64 + headers) is `size` bytes.
    const blob = await writeBlob(h.dir, 'payload.bin', Math.floor((((size - 8192) * 76) / 78) * 0.75));
    const msg = await writeMessage(h.dir, 'bench', {
      from: 'scanner@contoso.com',
      to: 'alice@contoso.com',
      subject: 'bench',
      text: 'bench',
      attachments: [{ filename: 'payload.bin', path: blob.path }],
    });
    const input = {
      ...simChildCloud(h),
      message: msg,
      mailFrom: 'scanner@contoso.com',
      recipients: ['alice@contoso.com'],
    };
    const node = process.execPath;
    const { stdout } = await run(
      node,
      [join(import.meta.dirname, 'graph-rss-child.ts'), JSON.stringify(input)],
      {
        env: { ...process.env, BENCH_GRAPH_SECRET: SECRET },
        maxBuffer: 1 << 20,
      },
    );
    const out = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
      kind: string;
      maxRssBytes: number;
      ms: number;
    };
    if (out.kind !== 'delivered') throw new Error(`bench message was not delivered: ${stdout}`);
    const got = h.graph.delivered[0]?.attachments[0];
    if (got?.sha256 !== blob.sha256) throw new Error('bench attachment arrived corrupted');
    return { maxRssBytes: out.maxRssBytes, ms: out.ms, messageBytes: msg.length };
  } finally {
    await h.close();
  }
}

export async function benchGraphMemory(): Promise<BenchFigure[]> {
  const small = await rssOf(1 * MB);
  const large = await rssOf(150 * MB);
  const diff = (large.maxRssBytes - small.maxRssBytes) / MB;
  return [
    {
      name: 'graph upload: peak RSS, 1 MB message',
      value: small.maxRssBytes / MB,
      unit: 'MB',
      note: `${(small.messageBytes / MB).toFixed(1)} MB message in ${small.ms} ms`,
    },
    {
      name: 'graph upload: peak RSS, 150 MB message',
      value: large.maxRssBytes / MB,
      unit: 'MB',
      note: `${(large.messageBytes / MB).toFixed(1)} MB message in ${large.ms} ms`,
    },
    { name: 'graph upload: RSS difference', value: diff, unit: 'MB', target: '<= 32 MB', pass: diff <= 32 },
  ];
}

export async function benchGraphRate(
  opts: { mailboxes?: number; perMinute?: number; seconds?: number } = {},
): Promise<BenchFigure[]> {
  const mailboxes = opts.mailboxes ?? 4;
  const perMinute = opts.perMinute ?? 300;
  const seconds = opts.seconds ?? 20;
  const boxes = Array.from({ length: mailboxes }, (_, i) => `sender${i + 1}@contoso.com`);
  const h = await startHarness({
    graph: { messagesPerMinute: perMinute, maxConcurrent: 4 },
    mailboxes: boxes.map((address) => ({ address })),
  });
  try {
    const t = h.transport({ messagesPerMinute: perMinute });
    const msgs = await Promise.all(
      boxes.map((b, i) =>
        writeMessage(h.dir, `rate-${i}`, { from: b, to: 'alice@contoso.com', subject: 'rate', text: 'x' }),
      ),
    );
    // Warm up (token, TLS connections, JIT on both sides): one message per mailbox, then measure the
    // steady state. The warm-up messages count against the simulator's window like any other.
    await Promise.all(boxes.map((b, i) => t.deliver(job(msgs[i] as (typeof msgs)[number], { mailFrom: b }))));
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const started = Date.now();
    const deadline = started + seconds * 1000;
    const stop = new AbortController();
    setTimeout(() => stop.abort(), seconds * 1000 + 50).unref();
    // Eight callers per mailbox, twice what Graph allows, so only the limiter keeps us inside it.
    const workers = boxes.flatMap((b, i) =>
      Array.from({ length: 8 }, async () => {
        while (Date.now() < deadline) {
          const out = await t.deliver(
            job(msgs[i] as (typeof msgs)[number], { mailFrom: b, signal: stop.signal }),
          );
          if (out.kind !== 'delivered' && !stop.signal.aborted)
            throw new Error(`rate bench: ${JSON.stringify(out)}`);
        }
      }),
    );
    await Promise.all(workers);
    const inWindow = h.graph.delivered.filter((d) => d.at >= started && d.at <= deadline).length;
    const allowed = ((perMinute * seconds) / 60) * mailboxes;
    const ratio = (inWindow / allowed) * 100;
    const peakInFlight = Math.max(...h.graph.stats.maxInFlight.values());
    return [
      {
        name: `graph rate: achieved vs allowed (${mailboxes} mailboxes x ${perMinute}/min, ${seconds} s)`,
        value: ratio,
        unit: '%',
        target: '>= 95%',
        pass: ratio >= 95,
        note: `${inWindow} of ${allowed} messages; event-loop stall max ${Math.round(loopDelay.max / 1e6)} ms (the simulator shares the process)`,
      },
      {
        name: 'graph rate: requests refused over the concurrency limit',
        value: h.graph.stats.overConcurrency,
        unit: 'requests',
        target: '0',
        pass: h.graph.stats.overConcurrency === 0,
      },
      {
        name: 'graph rate: requests refused over the message rate',
        value: h.graph.stats.overRate,
        unit: 'requests',
        target: '0',
        pass: h.graph.stats.overRate === 0,
      },
      {
        name: 'graph rate: peak requests in flight per mailbox',
        value: peakInFlight,
        unit: 'requests',
        target: '<= 4',
        pass: peakInFlight <= 4,
      },
    ];
  } finally {
    await h.close();
  }
}

// Throughput and memory of the receiver's content pass (bare CR/LF normaliser, header limits,
// missing headers) on its own, so its share of intake cost is visible: MB/s over a 64 MB stream of
// 78-character CRLF lines, and the same with a bare LF every line (the worst case: one fix-up per line).
import { ContentNormalizer } from '../../appliance/src/receiver/content.ts';

export interface ContentBenchResult {
  readonly name: string;
  readonly mbPerSecond: number;
  readonly heapGrowthMb: number;
}

function runOne(name: string, line: string, totalMb: number): ContentBenchResult {
  const chunk = Buffer.from(line.repeat(Math.floor(65_536 / line.length)));
  const n = new ContentNormalizer({
    bareLineEndings: 'normalize',
    maxHeaderSize: 100 * 1024,
    maxLineLength: 16 * 1024,
    addMissingHeaders: true,
    defaultFrom: 'dev@contoso.com',
    messageId: '<bench@relay>',
    date: 'Sun, 22 Nov 2026 00:00:00 +0000',
  });
  n.push(Buffer.from('Subject: bench\r\n\r\n'));
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const total = totalMb * 1024 * 1024;
  const start = process.hrtime.bigint();
  let out = 0;
  for (let i = 0; i < total; i += chunk.length) for (const b of n.push(chunk)) out += b.length;
  for (const b of n.end()) out += b.length;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
  if (out < total) throw new Error('normaliser lost bytes');
  return { name, mbPerSecond: total / 1024 / 1024 / seconds, heapGrowthMb };
}

export function benchContent(totalMb = 64): ContentBenchResult[] {
  return [
    runOne('CRLF lines', `${'a'.repeat(78)}\r\n`, totalMb),
    runOne('bare-LF lines', `${'a'.repeat(78)}\n`, totalMb),
  ];
}

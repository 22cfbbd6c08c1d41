// Log lines leave in batches (log.ts batchedDestination): one write per LOG_FLUSH_MS while lines
// wait, none while idle, and whatever waits is written when the process exits.
import { spawnSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { batchedDestination, LOG_FLUSH_MS } from '../../../appliance/src/log.ts';

describe('log: batched destination', () => {
  it('flushes once per 100 ms while lines wait, and not at all while idle', () => {
    const calls: string[] = [];
    const stream = { write: (l: string) => calls.push(`write ${l}`), flush: () => calls.push('flush') };
    vi.useFakeTimers();
    try {
      const dest = batchedDestination(stream);
      expect(LOG_FLUSH_MS).toBe(100);
      dest.write('a\n');
      dest.write('b\n');
      vi.advanceTimersByTime(99);
      expect(calls).toEqual(['write a\n', 'write b\n']);
      vi.advanceTimersByTime(1);
      expect(calls).toEqual(['write a\n', 'write b\n', 'flush']);
      vi.advanceTimersByTime(10_000);
      expect(calls).toHaveLength(3);
      dest.write('c\n');
      vi.advanceTimersByTime(100);
      expect(calls.slice(3)).toEqual(['write c\n', 'flush']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('stdout: a line still held when the process exits is written by the exit', () => {
    // A child logs one line through the default (stdout) destination and exits at once, before the
    // 100 ms are up.
    const script = `
      import { createLogger } from ${JSON.stringify(new URL('../../../appliance/src/log.ts', import.meta.url).href)};
      const log = createLogger({ level: 'info' });
      log.info('first line');
      process.exit(0);
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('"msg":"first line"');
  });
});

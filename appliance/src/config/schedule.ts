// The retry schedule (config `spool.retrySchedule`): a readable list such as "1m,5m*2,30m*4,2h*8"
// (zone-mta/Haraka style), parsed once by the config schema; the delivery engine reads the delays.
// Pure.
import { parseDuration } from './units.ts';

export function parseSchedule(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*([^*\s]+)\s*(?:\*\s*(\d+))?\s*$/.exec(part);
    if (!m) throw new Error(`"${part}" is not a schedule step; write e.g. 5m or 5m*3`);
    const count = m[2] === undefined ? 1 : Number(m[2]);
    if (count < 1 || count > 10_000) throw new Error(`"${part}": repeat count must be 1..10000`);
    const ms = parseDuration(m[1] as string);
    for (let i = 0; i < count; i++) out.push(ms);
  }
  if (out.length === 0) throw new Error('the retry schedule is empty');
  return out;
}

/** Delay before the next attempt after `failures` transient failures (1 = after the first). */
export function retryDelay(schedule: readonly number[], failures: number): number {
  const i = Math.min(Math.max(failures, 1), schedule.length) - 1;
  return schedule[i] as number;
}

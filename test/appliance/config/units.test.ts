import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseSize } from '../../../appliance/src/config/units.ts';

describe('units', () => {
  it('parses binary sizes', () => {
    expect(parseSize('35MB')).toBe(35 * 1024 * 1024);
    expect(parseSize('512 KiB')).toBe(512 * 1024);
    expect(parseSize('100B')).toBe(100);
  });
  it('parses durations', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('5d')).toBe(5 * 86_400_000);
    expect(formatDuration(300_000)).toBe('5m');
  });
  it('refuses a bare number, naming the units', () => {
    expect(() => parseSize('35')).toThrow(/unit/);
    expect(() => parseDuration('10')).toThrow(/ms, s, m, h or d/);
  });
});

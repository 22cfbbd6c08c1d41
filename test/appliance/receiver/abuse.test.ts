import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuthFailureTracker, abuseKey, RateLimiter } from '../../../appliance/src/receiver/abuse.ts';

function tracker(limit = 3, windowMs = 60_000, blockMs = 300_000) {
  let now = 1_000_000;
  const t = new AuthFailureTracker({ limit, windowMs, blockMs }, () => now);
  return { t, advance: (ms: number) => (now += ms), now: () => now };
}

describe('AUTH failure tracker', () => {
  it('blocks at the limit, for the block time, then forgets', () => {
    const { t, advance } = tracker();
    expect(t.fail('10.0.0.1')).toBe(false);
    expect(t.fail('10.0.0.1')).toBe(false);
    expect(t.blockedUntil('10.0.0.1')).toBeUndefined();
    expect(t.fail('10.0.0.1')).toBe(true);
    expect(t.blockedUntil('10.0.0.1')).toBeDefined();
    expect(t.blockedUntil('10.0.0.2')).toBeUndefined();
    advance(299_999);
    expect(t.fail('10.0.0.1')).toBe(true);
    advance(2);
    expect(t.blockedUntil('10.0.0.1')).toBeUndefined();
    expect(t.fail('10.0.0.1')).toBe(false);
  });

  it('forgets failures older than the window', () => {
    const { t, advance } = tracker();
    t.fail('10.0.0.1');
    t.fail('10.0.0.1');
    advance(60_001);
    expect(t.failures('10.0.0.1')).toBe(0);
    expect(t.fail('10.0.0.1')).toBe(false);
  });

  it('counts IPv6 per /64, so a host cannot rotate addresses inside its prefix', () => {
    const { t } = tracker();
    expect(t.fail('2001:db8:1:2::a')).toBe(false);
    expect(t.fail('2001:db8:1:2:ffff::b')).toBe(false);
    expect(t.fail('2001:db8:1:2:0:0:0:c')).toBe(true);
    expect(t.blockedUntil('2001:db8:1:3::1')).toBeUndefined();
    expect(abuseKey('2001:0db8:0000:0001::5')).toBe('2001:db8:0:1::/64');
    expect(abuseKey('::1')).toBe('0:0:0:0::/64');
  });

  it('stays bounded under an address-rotating flood', () => {
    const { t } = tracker(5);
    for (let i = 0; i < 12_000; i++) t.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(t.size).toBeLessThanOrEqual(10_000);
  });
});

describe('rate limiter', () => {
  it('allows a burst of the rate, then one message per 60/rate seconds', () => {
    let now = 0;
    const r = new RateLimiter(() => now);
    for (let i = 0; i < 6; i++) expect(r.take('a', 6)).toBe(true);
    expect(r.take('a', 6)).toBe(false);
    expect(r.take('b', 6)).toBe(true);
    now += 9_999;
    expect(r.take('a', 6)).toBe(false);
    now += 1;
    expect(r.take('a', 6)).toBe(true);
  });

  it('never admits more than rate + rate × minutes elapsed (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 120 }),
        fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1, maxLength: 400 }),
        (rate, gaps) => {
          let now = 0;
          const r = new RateLimiter(() => now);
          let accepted = 0;
          for (const g of gaps) {
            now += g;
            if (r.take('id', rate)) accepted++;
          }
          expect(accepted).toBeLessThanOrEqual(rate + Math.floor((rate * now) / 60_000) + 1);
        },
      ),
    );
  });
});

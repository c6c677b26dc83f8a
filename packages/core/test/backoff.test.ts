import { describe, expect, it } from '@jest/globals';
import { backoffDelay, DEFAULT_BACKOFF } from '../src/index.js';

describe('backoffDelay', () => {
  it('defaults: 100 ms initial, ×2, 5 s cap, ±25 % jitter, 30 retries (about two minutes)', () => {
    expect(DEFAULT_BACKOFF).toEqual({
      initialDelay: 100,
      multiplier: 2,
      maxDelay: 5000,
      jitter: 0.25,
      maxRetries: 30,
    });
  });

  it('grows exponentially and caps at maxDelay (no jitter at the midpoint)', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffDelay(n, {}, mid))).toEqual([
      100, 200, 400, 800, 1600, 3200, 5000, 5000,
    ]);
  });

  it('jitter spreads ±25 % around the base', () => {
    expect(backoffDelay(1, {}, () => 0)).toBe(75);
    expect(backoffDelay(1, {}, () => 0.999999)).toBe(125);
    expect(backoffDelay(10, {}, () => 0)).toBe(3750);
  });

  it('many clients do not retry in lockstep', () => {
    const delays = Array.from({ length: 50 }, () => backoffDelay(3));
    expect(new Set(delays).size).toBeGreaterThan(20);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(300);
      expect(d).toBeLessThanOrEqual(500);
    }
  });
});

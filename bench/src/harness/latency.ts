import { hrNow, percentileSorted } from './stats.js';
import type { LatencyResult } from './types.js';

/** p50 / p90 / p99 / mean of latency samples in microseconds. */
export function latencySummary(samples: Float64Array): LatencyResult {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const arr = Array.from(sorted);
  return {
    p50: percentileSorted(arr, 50),
    p90: percentileSorted(arr, 90),
    p99: percentileSorted(arr, 99),
    mean: sum / sorted.length,
    n: sorted.length,
  };
}

/**
 * `warmup` untimed, then `count` timed sequential calls of `once` (one round trip each): the timed ones in µs. Every
 * contender's `requests()` measures through this one loop.
 */
export async function timeRoundTrips(once: () => Promise<unknown>, count: number, warmup: number): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await once();
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t = hrNow();
    await once();
    samples[i] = (hrNow() - t) / 1000;
  }
  return Array.from(samples);
}

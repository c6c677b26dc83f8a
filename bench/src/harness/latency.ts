import { percentileSorted } from './stats.js';
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

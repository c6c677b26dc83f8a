/**
 * The targets of issues 16, 6 and 17 and whether this run met them.
 */
import { formatNumber } from '../harness/stats.js';
import type { TransportKind } from '../harness/types.js';
import type { ScenarioResult } from '../scenarios/messaging.js';
import type { ScalingPoint } from '../scenarios/scaling.js';
import type { SlowResult } from '../scenarios/slow-consumer.js';
import { STATS_COST_TARGET, type StatsCostResult } from '../scenarios/stats-cost.js';
import { ceilingOf, findResult, type Target } from './results.js';
import { fmtRatio } from './tables.js';

/**
 * Evaluates the targets of issue 16 (throughput against the ceiling and
 * zeromq.js, round trips against raw, 64 KiB messages, NATS against nats.js,
 * the scaling curve to 1,000 clients) and issue 6's slow-consumer targets.
 */
export function buildTargets(
  results: ScenarioResult[],
  slow: SlowResult[],
  scaling: ScalingPoint[] = [],
  statsCost?: StatsCostResult,
): Target[] {
  const out: Target[] = [];
  const add = (
    target: string,
    transport: TransportKind,
    r: ScenarioResult | undefined,
    key: string,
    other: number,
    otherName: string,
    unit: string,
    ok: (ratio: number) => boolean,
  ): void => {
    if (r === undefined) return; // not run: no line
    const sk = r.metrics.socketkit?.[key] ?? NaN;
    const ratio = sk / other;
    const fmt = (v: number): string =>
      unit === 'µs' ? `${v.toFixed(1)} µs` : unit === 'MB/s' ? `${v.toFixed(0)} MB/s` : `${formatNumber(v)} msg/s`;
    const measured = !Number.isFinite(other)
      ? `no ${otherName} figure in this run`
      : `${fmtRatio(ratio)} (${fmt(sk)} vs ${fmt(other)} ${otherName})`;
    const met = !Number.isFinite(other) ? null : ok(ratio);
    out.push({ target, transport, measured, met, ...(met === false ? { profile: { id: r.id, transport } } : {}) });
  };
  for (const transport of ['unix', 'tcp'] as const) {
    for (const [id, key, label] of [
      ['broadcast-1', 'msgsPerSec', 'Broadcast, 1 client'],
      ['fanout-10', 'totalMsgsPerSec', 'Fan-out, 10 clients'],
    ] as const) {
      const r = findResult(results, id, transport);
      add(
        `${label} ≥ 0.9× raw ceiling`,
        transport,
        r,
        key,
        r === undefined ? NaN : ceilingOf(r, key, 'higher'),
        'ceiling',
        'msg/s',
        (x) => x >= 0.9,
      );
      add(
        `${label} ≥ 2× zeromq.js`,
        transport,
        r,
        key,
        r?.metrics.zeromq?.[key] ?? NaN,
        'zeromq.js',
        'msg/s',
        (x) => x >= 2,
      );
    }
    const rr = findResult(results, 'reqrep', transport);
    add(
      'Request/reply p50 ≤ 1.15× raw',
      transport,
      rr,
      'p50Us',
      rr === undefined ? NaN : ceilingOf(rr, 'p50Us', 'lower'),
      'raw',
      'µs',
      (x) => x <= 1.15,
    );
    add(
      'Request/reply p99 ≤ 1.3× raw',
      transport,
      rr,
      'p99Us',
      rr === undefined ? NaN : ceilingOf(rr, 'p99Us', 'lower'),
      'raw',
      'µs',
      (x) => x <= 1.3,
    );
    const lg = findResult(results, 'large-64k', transport);
    add(
      '64 KiB messages ≥ 0.95× raw',
      transport,
      lg,
      'MBps',
      lg === undefined ? NaN : ceilingOf(lg, 'MBps', 'higher'),
      'raw',
      'MB/s',
      (x) => x >= 0.95,
    );
  }
  // [issue 28, item 4] large messages toward the machine's limit, and ingress, over unix
  const lg = findResult(results, 'large-64k', 'unix');
  if (lg !== undefined) {
    const sk = lg.metrics.socketkit?.MBps ?? NaN;
    const raw = ceilingOf(lg, 'MBps', 'higher');
    const py = lg.metrics.python?.MBps;
    const met = Number.isFinite(sk) && Number.isFinite(raw) ? sk >= 1500 && sk > raw : null;
    out.push({
      target: '64 KiB messages ≥ 1.5 GB/s and ahead of raw node',
      transport: 'unix',
      measured:
        `${(sk / 1000).toFixed(2)} GB/s vs raw node ${(raw / 1000).toFixed(2)} GB/s` +
        (py === undefined ? '' : ` (Python peer ${(py / 1000).toFixed(2)} GB/s)`),
      met,
      ...(met === false ? { profile: { id: lg.id, transport: 'unix' as const } } : {}),
    });
  }
  const ing = findResult(results, 'ingress-8', 'unix');
  add(
    'Ingress, 8 writers ≥ 0.95× raw ceiling',
    'unix',
    ing,
    'msgsPerSec',
    ing === undefined ? NaN : ceilingOf(ing, 'msgsPerSec', 'higher'),
    'ceiling',
    'msg/s',
    (x) => x >= 0.95,
  );
  for (const [id, key, label] of [
    ['broadcast-1', 'msgsPerSec', 'NATS broadcast, 1 client ≥ 0.8× nats.js'],
    ['fanout-10', 'totalMsgsPerSec', 'NATS fan-out, 10 clients ≥ 0.8× nats.js'],
  ] as const) {
    const r = findResult(results, id, 'nats');
    if (r !== undefined)
      add(label, 'nats', r, key, r.metrics['nats-raw']?.[key] ?? NaN, 'nats.js', 'msg/s', (x) => x >= 0.8);
  }
  for (const transport of ['unix', 'tcp'] as const) {
    const top = scaling
      .filter((p) => p.transport === transport && p.impl === 'socketkit')
      .sort((a, b) => b.clients - a.clients)[0];
    if (top === undefined) continue;
    out.push({
      target: `Scaling: ${top.clients} clients connect and receive`,
      transport,
      measured: top.ok
        ? `${top.connected} connected at ${top.connectsPerSec.toFixed(0)}/s, ${formatNumber(top.deliveredPerSec)} ` +
          `msg/s delivered`
        : `${top.connected} of ${top.clients} connected: ${top.error}`,
      met: top.ok,
    });
  }
  for (const s of slow) {
    if (!s.ok) {
      out.push({ target: 'Slow consumer', transport: s.transport, measured: `failed: ${s.error ?? ''}`, met: false });
      continue;
    }
    out.push({
      target: 'Slow consumer: server RSS growth < 64 MiB (issue 6)',
      transport: s.transport,
      measured: `+${s.rssGrowthMiBLoaded.toFixed(1)} MiB (unloaded run: +${s.rssGrowthMiBUnloaded.toFixed(1)} MiB)`,
      met: s.rssGrowthMiBLoaded < 64,
    });
    out.push({
      target: 'Slow consumer: fast client ≥ 0.5× unloaded throughput (issue 6)',
      transport: s.transport,
      measured: `${fmtRatio(s.fastRatio)} (${s.loadedMBps.toFixed(0)} vs ${s.unloadedMBps.toFixed(0)} MB/s)`,
      met: s.fastRatio >= 0.5,
    });
  }
  if (statsCost !== undefined) out.push(statsCostTarget(statsCost));
  return out;
}

/** The "stats cost" row (issue 17): stats on ÷ off, interleaved A/B in one process, medians of the rounds. */
export function statsCostTarget(r: StatsCostResult): Target {
  const target = `Stats cost: counters on ÷ off ≤ ${STATS_COST_TARGET} (interleaved A/B, median of ${r.rounds})`;
  if (!r.ok) return { target, transport: 'unix', measured: `failed: ${r.error ?? 'unknown error'}`, met: false };
  const spread =
    r.roundRatios.length > 0
      ? `; rounds ${Math.min(...r.roundRatios).toFixed(2)}–${Math.max(...r.roundRatios).toFixed(2)}`
      : '';
  const round = `${formatNumber(r.messages)} broadcasts × ${r.clients} clients`;
  return {
    target,
    transport: 'unix',
    measured: `${r.ratio.toFixed(3)} (${r.onMs.toFixed(1)} vs ${r.offMs.toFixed(1)} ms per round of ${round}${spread})`,
    met: r.ratio <= STATS_COST_TARGET,
  };
}

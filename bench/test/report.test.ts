import { describe, expect, it } from '@jest/globals';
import { buildHeadline, buildRows } from '../src/report/results.js';
import { buildTargets } from '../src/report/targets.js';
import type { ScalingPoint } from '../src/scenarios/scaling.js';
import type { ScenarioResult } from '../src/scenarios/messaging.js';

function scenario(
  id: ScenarioResult['id'],
  n: number,
  transport: ScenarioResult['transport'],
  metrics: ScenarioResult['metrics'],
): ScenarioResult {
  return { id, n, title: id, transport, ok: true, params: {}, metrics, runs: {}, seconds: 1 };
}

const point = (transport: 'unix' | 'tcp', ok: boolean): ScalingPoint => ({
  transport,
  impl: 'socketkit',
  clients: 1000,
  processes: 10,
  ok,
  error: ok ? '' : '321 of 1000 connects failed; first error: EAGAIN',
  connected: ok ? 1000 : 679,
  count: 120,
  connectsPerSec: 500,
  rssPerClient: 1,
  heapPerClient: 1,
  deliveredPerSec: ok ? 1e5 : NaN,
  cpuUsPerMsg: 1,
  serverCpuUsPerMsg: 1,
  bytesPerMsg: 230,
  frameBytes: 230,
});

describe('targets of issue 16', () => {
  const results = [
    scenario('broadcast-1', 1, 'unix', {
      socketkit: { msgsPerSec: 95 },
      'raw-write': { msgsPerSec: 50 },
      'raw-batched': { msgsPerSec: 100 },
      zeromq: { msgsPerSec: 40 },
    }),
    scenario('fanout-10', 2, 'unix', {
      socketkit: { totalMsgsPerSec: 60 },
      'raw-write': { totalMsgsPerSec: 20 },
      'raw-batched': { totalMsgsPerSec: 100 },
      zeromq: { totalMsgsPerSec: 40 },
    }),
    scenario('reqrep', 4, 'unix', {
      socketkit: { p50Us: 56, p99Us: 200 },
      'raw-write': { p50Us: 50, p99Us: 100 },
      'raw-batched': { p50Us: 60, p99Us: 120 },
    }),
    scenario('broadcast-1', 1, 'nats', { socketkit: { msgsPerSec: 70 }, 'nats-raw': { msgsPerSec: 100 } }),
  ];
  const targets = buildTargets(results, [], [point('unix', false), point('tcp', true)]);
  const get = (target: string, transport: string) =>
    targets.find((t) => t.target === target && t.transport === transport);

  it('compares throughput with the better raw variant and with zeromq.js', () => {
    expect(get('Broadcast, 1 client ≥ 0.9× raw ceiling', 'unix')).toMatchObject({ met: true });
    expect(get('Broadcast, 1 client ≥ 2× zeromq.js', 'unix')).toMatchObject({ met: true });
    expect(get('Fan-out, 10 clients ≥ 0.9× raw ceiling', 'unix')).toMatchObject({
      met: false,
      profile: { id: 'fanout-10', transport: 'unix' },
    });
    expect(get('Fan-out, 10 clients ≥ 2× zeromq.js', 'unix')).toMatchObject({ met: false });
  });

  it('compares round trips with the faster raw variant', () => {
    expect(get('Request/reply p50 ≤ 1.15× raw', 'unix')).toMatchObject({ met: true });
    expect(get('Request/reply p99 ≤ 1.3× raw', 'unix')).toMatchObject({
      met: false,
      profile: { id: 'reqrep', transport: 'unix' },
    });
  });

  it('compares socketkit over NATS with plain nats.js', () => {
    expect(get('NATS broadcast, 1 client ≥ 0.8× nats.js', 'nats')).toMatchObject({ met: false });
  });

  it('reports a scaling point whose clients could not all connect as missed, with the error', () => {
    expect(get('Scaling: 1000 clients connect and receive', 'unix')).toMatchObject({ met: false });
    expect(get('Scaling: 1000 clients connect and receive', 'unix')?.measured).toContain('EAGAIN');
    expect(get('Scaling: 1000 clients connect and receive', 'tcp')).toMatchObject({ met: true });
  });

  it('has no line for a scenario that did not run, and n/a without a peer figure', () => {
    expect(get('64 KiB messages ≥ 0.95× raw', 'unix')).toBeUndefined();
    expect(targets.some((t) => t.transport === 'tcp' && t.target.startsWith('Broadcast'))).toBe(false);
  });
});

describe('targets of issue 28, item 4 (unix)', () => {
  const results = [
    scenario('large-64k', 3, 'unix', {
      socketkit: { MBps: 1600 },
      'raw-write': { MBps: 700 },
      'raw-batched': { MBps: 800 },
      python: { MBps: 2200 },
    }),
    scenario('large-64k', 3, 'tcp', { socketkit: { MBps: 900 }, 'raw-batched': { MBps: 800 } }),
    scenario('ingress-8', 5, 'unix', { socketkit: { msgsPerSec: 90 }, 'raw-batched': { msgsPerSec: 100 } }),
  ];
  const targets = buildTargets(results, []);
  const get = (target: string, transport: string) =>
    targets.find((t) => t.target === target && t.transport === transport);

  it('asks 64 KiB messages for 1.5 GB/s and more than the raw node program, on unix only', () => {
    expect(get('64 KiB messages ≥ 1.5 GB/s and ahead of raw node', 'unix')).toMatchObject({ met: true });
    expect(get('64 KiB messages ≥ 1.5 GB/s and ahead of raw node', 'unix')?.measured).toContain('Python peer');
    expect(get('64 KiB messages ≥ 1.5 GB/s and ahead of raw node', 'tcp')).toBeUndefined();
  });

  it('asks ingress from 8 writers for 0.95× the ceiling, with a profile when missed', () => {
    expect(get('Ingress, 8 writers ≥ 0.95× raw ceiling', 'unix')).toMatchObject({
      met: false,
      profile: { id: 'ingress-8', transport: 'unix' },
    });
  });
});

describe('comparison rows', () => {
  const r = scenario('broadcast-1', 1, 'tcp', {
    socketkit: { msgsPerSec: 90, MBps: 9 },
    'raw-write': { msgsPerSec: 45, MBps: 4.5 },
    'raw-batched': { msgsPerSec: 100, MBps: 10 },
    zeromq: { msgsPerSec: 30, MBps: 3 },
    python: { msgsPerSec: 60, MBps: 6 },
  });

  it('gives every implementation its ratio to the ceiling and socketkit ÷ it', () => {
    const rows = buildRows([r]);
    expect(rows.map((x) => x.impl)).toEqual(['socketkit', 'raw-write', 'raw-batched', 'zeromq', 'python']);
    expect(rows.find((x) => x.impl === 'socketkit')?.ratioCeiling).toBeCloseTo(0.9);
    expect(rows.find((x) => x.impl === 'zeromq')?.skOverThis).toBeCloseTo(3);
    expect(rows.find((x) => x.impl === 'python')?.ratioCeiling).toBeCloseTo(0.6);
  });

  it('puts socketkit ÷ zeromq.js and ÷ the Python peer beside the raw ratios', () => {
    const [h] = buildHeadline([r]);
    expect(h).toMatchObject({ socketkit: 90, ceiling: 100 });
    expect(h?.overCeiling).toBeCloseTo(0.9);
    expect(h?.overWrite).toBeCloseTo(2);
    expect(h?.overZmq).toBeCloseTo(3);
    expect(h?.overPython).toBeCloseTo(1.5);
  });
});

describe('the stats cost row (issue 17)', () => {
  const cost = (onMs: number, offMs: number) => ({
    ok: true,
    rounds: 7,
    messages: 20_000,
    clients: 10,
    onMs,
    offMs,
    ratio: onMs / offMs,
    roundRatios: [0.9, 1.1],
  });

  it('is a target: stats on ÷ off ≤ 1.03, met or missed with the measured ratio', () => {
    const met = buildTargets([], [], [], cost(101, 100)).find((t) => t.target.startsWith('Stats cost'));
    expect(met).toMatchObject({ transport: 'unix', met: true });
    expect(met?.measured).toContain('1.010');
    const missed = buildTargets([], [], [], cost(110, 100)).find((t) => t.target.startsWith('Stats cost'));
    expect(missed).toMatchObject({ met: false });
    expect(missed?.measured).toContain('1.100');
  });

  it('a failed A/B is a missed row that says why; no A/B, no row', () => {
    const failed = buildTargets([], [], [], { ...cost(1, 1), ok: false, error: 'EADDRINUSE' }).find((t) =>
      t.target.startsWith('Stats cost'),
    );
    expect(failed).toMatchObject({ met: false, measured: expect.stringContaining('EADDRINUSE') });
    expect(buildTargets([], [], []).some((t) => t.target.startsWith('Stats cost'))).toBe(false);
  });
});

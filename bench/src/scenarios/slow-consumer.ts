/**
 * Scenario 6 over one transport: a socketkit server broadcasting 64 KiB
 * messages to a fast client and a client that stopped reading; what the
 * slow-consumer policy did and what it cost the fast client and the server.
 */
import { WorkerHandle, later } from '../harness/ipc.js';
import { median } from '../harness/stats.js';
import type { Address, CountResult, SlowBroadcastResult, TransportKind } from '../harness/types.js';
import { LARGE, SCENARIOS, type Plan, type Progress } from './plan.js';

/** Per-run record of the slow-consumer scenario. */
export interface SlowRun extends SlowBroadcastResult {
  loaded: boolean;
  /** Fast client throughput, MB/s (10^6 bytes of frames per second). */
  fastMBps: number;
  /** Server RSS growth during the run, MiB. */
  rssGrowthMiB: number;
}

/** Outcome of scenario 6 over one transport. */
export interface SlowResult {
  id: 'slow-consumer';
  n: 6;
  title: string;
  transport: TransportKind;
  ok: boolean;
  error?: string;
  offeredBytes: number;
  payloadBytes: number;
  drainEveryBytes: number;
  /** The server's `drainTimeout` option in this scenario (ms). */
  drainTimeoutMs: number;
  runs: SlowRun[];
  /** Medians. */
  unloadedMBps: number;
  loadedMBps: number;
  fastRatio: number;
  rssGrowthMiBLoaded: number;
  rssGrowthMiBUnloaded: number;
  slowDroppedAtMiB: number;
  slowPendingMiB: number;
  slowCode: string;
  /** Why the policy applied (from the server's warning). */
  slowWhy: string;
  slowReason: string;
  /** Median of the longest single `drain()` per loaded run (ms). */
  drainMaxMs: number;
  drainWaitMs: number;
  seconds: number;
}

/** `drainTimeout` of the slow-consumer scenario's server (ms). */
export const SLOW_DRAIN_TIMEOUT_MS = 250;

/**
 * Scenario 6 over `transport`: a socketkit server broadcasting 64 KiB
 * messages (`plan.slowBytes` offered per run) to one fast client, alternating
 * runs without (unloaded) and with a second client that stopped reading
 * (loaded). Reports server RSS growth, the fast client's throughput and what
 * the slow-consumer policy did.
 */
export async function runSlowConsumer(
  transport: TransportKind,
  plan: Plan,
  socketDir: string,
  progress: Progress,
): Promise<SlowResult> {
  const started = Date.now();
  const payloadBytes = LARGE;
  const drainEveryBytes = 2 ** 20;
  // A stopped client never drains: drain() then waits drainTimeout before the slow-consumer policy
  // drops it. The library default is 5 s (defaultTimeout); a broadcaster that must not stall its fast
  // readers for that long sets it lower, as here.
  const drainTimeoutMs = SLOW_DRAIN_TIMEOUT_MS;
  const res: SlowResult = {
    id: 'slow-consumer',
    n: 6,
    title: SCENARIOS[5]!.title,
    transport,
    ok: false,
    offeredBytes: 0,
    payloadBytes,
    drainEveryBytes,
    drainTimeoutMs,
    runs: [],
    unloadedMBps: NaN,
    loadedMBps: NaN,
    fastRatio: NaN,
    rssGrowthMiBLoaded: NaN,
    rssGrowthMiBUnloaded: NaN,
    slowDroppedAtMiB: NaN,
    slowPendingMiB: NaN,
    slowCode: '',
    slowWhy: '',
    slowReason: '',
    drainMaxMs: NaN,
    drainWaitMs: NaN,
    seconds: 0,
  };
  const workers: WorkerHandle[] = [];
  try {
    progress.detail('starting 3 processes (server, fast client, slow client)');
    const [server, fast, slow] = (await WorkerHandle.spawnAll(
      ['server', 'fast-client', 'slow-client'].map((name) => ({ name, execArgv: plan.execArgv })),
    )) as [WorkerHandle, WorkerHandle, WorkerHandle];
    workers.push(server, fast, slow);
    const address = await server.call<Address>('startServer', {
      impl: 'socketkit',
      transport,
      eventName: `slow_consumer_${transport}`,
      socketDir,
      drainTimeout: drainTimeoutMs,
    });
    await fast.call('connect', { impl: 'socketkit', key: 'fast', address });
    await server.call('waitClients', { impl: 'socketkit', n: 1 });
    const runOne = async (loaded: boolean, n: number, rep = 0): Promise<SlowRun> => {
      if (loaded) {
        await slow.call('connect', { impl: 'socketkit', key: `slow${rep}`, address, slow: true });
        await server.call('waitClients', { impl: 'socketkit', n: 2 });
      }
      await fast.call('arm', { key: 'fast', count: n });
      const wait = later(fast.call<CountResult>('waitCount', { key: 'fast' }, 120_000));
      const r = await server.call<SlowBroadcastResult>(
        'slowBroadcast',
        { count: n, payloadBytes, drainEveryBytes },
        120_000,
      );
      const got = await wait;
      if (loaded) await slow.call('disconnect', { key: `slow${rep}` });
      const seconds = (got.tLast - r.t0) / 1e9;
      return {
        ...r,
        loaded,
        fastMBps: (n * r.frameBytes) / seconds / 1e6,
        rssGrowthMiB: (r.rssPeak - r.rssBase) / 2 ** 20,
      };
    };
    // Warm-up (16 MiB, unloaded), which also gives the frame size of a 64 KiB payload.
    const probe = await runOne(false, 256);
    const count = Math.floor(plan.slowBytes / probe.frameBytes);
    res.offeredBytes = count * probe.frameBytes;
    progress.detail(
      `warm-up done; each run offers ${(res.offeredBytes / 2 ** 20).toFixed(0)} MiB (${count} × ${probe.frameBytes} ` +
        `B ` +
        `frames) per client`,
    );
    for (let rep = 0; rep < plan.reps; rep++) {
      for (const loaded of [false, true]) {
        const r = await runOne(loaded, count, rep);
        res.runs.push(r);
        const slowText = loaded
          ? r.slowDroppedAtBytes >= 0
            ? ` | slow client ${r.slowCode || 'dropped'} ` +
              `after ${(r.slowDroppedAtBytes / 2 ** 20).toFixed(1)} MiB offered (${r.slowWhy}), longest ` +
              `drain() ${r.drainMaxMs.toFixed(0)} ms`
            : ' | slow client was NOT disconnected'
          : '';
        progress.detail(
          `run ${rep + 1}/${plan.reps} ${loaded ? 'loaded  ' : 'unloaded'}: fast ` +
            `client ${r.fastMBps.toFixed(0)} MB/s, server RSS +${r.rssGrowthMiB.toFixed(1)} MiB${slowText}`,
        );
      }
    }
    const un = res.runs.filter((r) => !r.loaded);
    const lo = res.runs.filter((r) => r.loaded);
    res.unloadedMBps = median(un.map((r) => r.fastMBps));
    res.loadedMBps = median(lo.map((r) => r.fastMBps));
    res.fastRatio = res.loadedMBps / res.unloadedMBps;
    res.rssGrowthMiBLoaded = median(lo.map((r) => r.rssGrowthMiB));
    res.rssGrowthMiBUnloaded = median(un.map((r) => r.rssGrowthMiB));
    const dropped = lo.filter((r) => r.slowDroppedAtBytes >= 0);
    res.slowDroppedAtMiB = median(dropped.map((r) => r.slowDroppedAtBytes / 2 ** 20));
    res.slowPendingMiB = median(
      dropped.filter((r) => r.slowPendingBytes >= 0).map((r) => r.slowPendingBytes / 2 ** 20),
    );
    res.slowCode = dropped.length === lo.length ? (lo[0]?.slowCode ?? '') : `${dropped.length}/${lo.length} dropped`;
    res.slowWhy = lo[0]?.slowWhy ?? '';
    res.slowReason = lo[0]?.slowReason ?? '';
    res.drainMaxMs = median(lo.map((r) => r.drainMaxMs));
    res.drainWaitMs = median(lo.map((r) => r.drainWaitMs));
    res.ok = true;
  } catch (err) {
    res.error = err instanceof Error ? err.message : String(err);
    progress.detail(`FAILED: ${res.error}`);
  } finally {
    await Promise.allSettled(workers.map((w) => w.close()));
    res.seconds = (Date.now() - started) / 1000;
  }
  return res;
}

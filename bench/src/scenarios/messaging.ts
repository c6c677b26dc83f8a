/**
 * The six scenarios, each run over one transport: the coordinator side
 * (spawning workers, arming clients, timing, medians).
 */
import { WorkerHandle } from '../harness/ipc.js';
import { latencySummary } from '../harness/latency.js';
import { median } from '../harness/stats.js';
import {
  IMPLS,
  type Address,
  type BroadcastResult,
  type CountResult,
  type Impl,
  type SlowBroadcastResult,
  type TransportKind,
  type WriteResult,
} from '../harness/types.js';

/** Identifiers of the six scenarios of issue 6. */
export type ScenarioId = 'broadcast-1' | 'fanout-10' | 'large-64k' | 'reqrep' | 'ingress-8' | 'slow-consumer';

/** Counts and repetitions of one invocation. */
export interface Plan {
  quick: boolean;
  /** Measured runs per figure (the figure is their median). */
  reps: number;
  broadcastCount: number;
  fanoutCount: number;
  largeCount: number;
  reqrepCount: number;
  reqrepWarmup: number;
  ingressPerWriter: number;
  /** Bytes the slow-consumer producer offers per run. */
  slowBytes: number;
  /** Messages delivered per scaling-curve run, all clients together (messages broadcast = this ÷ clients, at least 50). */
  scalingDeliveries: number;
  /** Largest client count of the scaling curve (1, 10, 100, 1000 up to this). */
  scalingMaxClients: number;
  /** Node flags for the workers (e.g. `--cpu-prof`). */
  execArgv: string[];
  /** URL of the nats-server the `nats` transport uses (set by run.ts when nats runs). */
  natsUrl?: string;
}

/** Full plan (`pnpm bench`) and quick plan (`--quick`, CLI `socketkit bench`, smoke test). */
export function makePlan(quick: boolean, reps?: number): Plan {
  const base: Plan = quick
    ? {
        quick,
        reps: 3,
        broadcastCount: 10_000,
        fanoutCount: 2_000,
        largeCount: 250,
        reqrepCount: 500,
        reqrepWarmup: 200,
        ingressPerWriter: 2_000,
        slowBytes: 256 * 2 ** 20,
        scalingDeliveries: 20_000,
        scalingMaxClients: 1000,
        execArgv: [],
      }
    : {
        quick,
        // Five, not three: on a shared 2-core host one run in three was often off by 20 % or more.
        reps: 5,
        // Long enough (about half a second per run) that a one-off collection of start-up garbage in
        // one of the eleven processes does not decide a run: 50k / 10k runs lasted 0.1-0.15 s.
        broadcastCount: 200_000,
        fanoutCount: 50_000,
        largeCount: 2_000,
        // p99 is the 100th slowest of 10,000 round trips, not the 20th of 2,000 (one scheduler hiccup moved it).
        reqrepCount: 10_000,
        reqrepWarmup: 500,
        ingressPerWriter: 8_000,
        slowBytes: 2 ** 29,
        scalingDeliveries: 100_000,
        scalingMaxClients: 1000,
        execArgv: [],
      };
  if (reps !== undefined) base.reps = reps;
  return base;
}

/** Static description of a scenario. */
export interface ScenarioDef {
  id: ScenarioId;
  n: number;
  title: string;
}

/** The six scenarios in order. */
export const SCENARIOS: readonly ScenarioDef[] = [
  { id: 'broadcast-1', n: 1, title: 'Broadcast, 1 client, 100 B' },
  { id: 'fanout-10', n: 2, title: 'Fan-out, 10 clients, 100 B' },
  { id: 'large-64k', n: 3, title: 'Large messages, 64 KiB, 1 client' },
  { id: 'reqrep', n: 4, title: 'Request/reply round trip' },
  { id: 'ingress-8', n: 5, title: 'Ingress, 8 writer processes' },
  { id: 'slow-consumer', n: 6, title: 'Slow consumer (1 stopped + 1 fast client)' },
];

/** Scenarios that also run over NATS (socketkit and plain nats.js through the same nats-server). */
export const NATS_SCENARIOS: readonly ScenarioId[] = ['broadcast-1', 'fanout-10', 'reqrep'];

/** Scenarios the other peers (zeromq.js, the Python reference peer) run: broadcast, fan-out, 64 KiB, round trips. */
const PEER_SCENARIOS: readonly ScenarioId[] = ['broadcast-1', 'fanout-10', 'large-64k', 'reqrep'];

/** The implementations that run scenario `id` over `transport`, in table order, among `wanted`. */
export function implsFor(id: ScenarioId, transport: TransportKind, wanted: readonly Impl[]): Impl[] {
  const all: Impl[] =
    transport === 'nats'
      ? ['socketkit', 'nats-raw']
      : PEER_SCENARIOS.includes(id)
        ? ['socketkit', 'raw-write', 'raw-batched', 'zeromq', 'python']
        : ['socketkit', 'raw-write', 'raw-batched'];
  return all.filter((i) => wanted.includes(i));
}

/** Metric values of one run (or the medians), by metric name. */
export type Metrics = Record<string, number>;

/** Outcome of scenarios 1–5 over one transport. */
export interface ScenarioResult {
  id: ScenarioId;
  n: number;
  title: string;
  transport: TransportKind;
  ok: boolean;
  error?: string;
  /** Messages per run (per client / per writer), payload size, frame size. */
  params: Record<string, number>;
  /** Median of the runs, per implementation. */
  metrics: Partial<Record<Impl, Metrics>>;
  /** Every measured run, per implementation. */
  runs: Partial<Record<Impl, Metrics[]>>;
  seconds: number;
  /** With a profile directory: the top functions by self time of the server and the first client during the measured runs. */
  profile?: Array<{
    role: string;
    busyMs: number;
    top: Array<{ name: string; location: string; selfMs: number; selfPercent: number }>;
  }>;
}

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

/** Progress reporting hooks. */
export interface Progress {
  step(text: string): void;
  detail(text: string): void;
}

const SMALL = 100;
const LARGE = 64 * 1024;
/** The producers call `drain()` every 64 KiB offered (every message for 64 KiB messages). */
const DRAIN_EVERY = 64 * 1024;
/** `drainTimeout` of the slow-consumer scenario's server (ms). */
export const SLOW_DRAIN_TIMEOUT_MS = 250;

/** Marks `p` as handled now (so an early failure elsewhere is no unhandled rejection) and returns it to await later. */
function later<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

function rotate<T>(items: readonly T[], k: number): T[] {
  return items.map((_, i) => items[(i + k) % items.length]!);
}

function medians(runs: Metrics[]): Metrics {
  const out: Metrics = {};
  for (const key of Object.keys(runs[0] ?? {})) out[key] = median(runs.map((r) => r[key]!));
  return out;
}

interface Cluster {
  server: WorkerHandle;
  clients: WorkerHandle[];
  close(): Promise<void>;
}

async function spawnCluster(
  nClients: number,
  transport: TransportKind,
  socketDir: string,
  tag: string,
  plan: Plan,
  impls: readonly Impl[] = IMPLS,
): Promise<Cluster> {
  const all: WorkerHandle[] = [];
  const close = async (): Promise<void> => {
    await Promise.allSettled(all.map((w) => w.close()));
  };
  try {
    const server = await WorkerHandle.spawn('server', plan.execArgv);
    all.push(server);
    const clients = await Promise.all(Array.from({ length: nClients }, (_, i) => WorkerHandle.spawn(`client${i + 1}`, plan.execArgv)));
    all.push(...clients);
    for (const impl of impls) {
      const eventName = `${tag}_${impl.replace('-', '_')}_${transport}`;
      const address = await server.call<Address>('startServer', {
        impl,
        transport,
        eventName,
        socketDir,
        natsUrl: plan.natsUrl,
      });
      await Promise.all(clients.map((c) => c.call('connect', { impl, key: impl, address })));
      await server.call('waitClients', { impl, n: nClients });
    }
    return { server, clients, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** CPU µs of every process of the cluster (each worker with its Python peers), server first. */
async function cpuOf(c: Cluster): Promise<number[]> {
  return (await Promise.all([c.server, ...c.clients].map((w) => w.call<{ cpuUs: number }>('usage')))).map((u) => u.cpuUs);
}

async function broadcastRun(c: Cluster, impl: Impl, count: number, payloadBytes: number): Promise<Metrics> {
  await Promise.all(c.clients.map((w) => w.call('arm', { key: impl, count })));
  const cpu0 = await cpuOf(c);
  const waits = c.clients.map((w) => later(w.call<CountResult>('waitCount', { key: impl })));
  const sent = await c.server.call<BroadcastResult>('broadcast', {
    impl,
    count,
    payloadBytes,
    drainEveryBytes: DRAIN_EVERY,
  });
  const got = await Promise.all(waits);
  const cpu1 = await cpuOf(c);
  const seconds = (Math.max(...got.map((g) => g.tLast)) - sent.t0) / 1e9;
  const perClient = count / seconds;
  const n = c.clients.length;
  const delivered = count * n;
  const cpuAll = cpu1.reduce((a, v, i) => a + v - cpu0[i]!, 0);
  return {
    msgsPerSec: perClient,
    totalMsgsPerSec: perClient * n,
    MBps: (perClient * n * sent.frameBytes) / 1e6,
    frameBytes: sent.frameBytes,
    seconds,
    // CPU per delivered message: less sensitive to a busy host than throughput is.
    cpuUsPerMsg: cpuAll / delivered,
    serverCpuUsPerMsg: (cpu1[0]! - cpu0[0]!) / delivered,
  };
}

/** Slices per request/reply run: the implementations take turns every slice, so bursts of background load hit them alike. */
const REQREP_SLICES = 5;

async function reqrepRuns(c: Cluster, impls: readonly Impl[], count: number, warmup: number, rep: number): Promise<Map<Impl, Metrics>> {
  const samples = new Map<Impl, number[]>(impls.map((i) => [i, []]));
  const per = Math.ceil(count / REQREP_SLICES);
  for (let s = 0; s < REQREP_SLICES; s++) {
    for (const impl of rotate(impls, rep + s)) {
      const r = await c.clients[0]!.call<number[]>('requests', {
        key: impl,
        count: per,
        warmup: s === 0 ? warmup : 20,
        payloadBytes: SMALL,
      });
      samples.get(impl)!.push(...r);
    }
  }
  const out = new Map<Impl, Metrics>();
  for (const [impl, v] of samples) {
    const r = latencySummary(Float64Array.from(v));
    out.set(impl, { p50Us: r.p50, p90Us: r.p90, p99Us: r.p99, meanUs: r.mean });
  }
  return out;
}

async function ingressRun(c: Cluster, impl: Impl, perWriter: number): Promise<Metrics> {
  const total = perWriter * c.clients.length;
  await c.server.call('armIngress', { impl, total });
  const wait = later(c.server.call<CountResult>('waitIngress', { impl }));
  const writes = await Promise.all(
    c.clients.map((w) => w.call<WriteResult>('write', { key: impl, count: perWriter, payloadBytes: SMALL, batchBytes: DRAIN_EVERY })),
  );
  const got = await wait;
  const seconds = (got.tLast - Math.min(...writes.map((w) => w.tStart))) / 1e9;
  const frameBytes = writes[0]!.frameBytes;
  return { msgsPerSec: total / seconds, MBps: (total * frameBytes) / seconds / 1e6, frameBytes, seconds };
}

function fmtRun(m: Metrics, keys: string[]): string {
  return keys.map((k) => `${k}=${formatNumber(m[k]!)}`).join(' ');
}

/** Compact number: 1.23M, 812k, 41.2. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 100) return v.toFixed(0);
  return v.toFixed(1);
}

/**
 * Runs scenario 1–5 `def` over `transport`: socketkit, both raw baselines
 * and the peers (zeromq.js, Python) in the same worker processes, one
 * warm-up run each, then `plan.reps` measured runs with the implementation
 * order rotated every run. Over `nats`: socketkit and plain nats.js.
 */
export async function runScenario(
  def: ScenarioDef,
  transport: TransportKind,
  plan: Plan,
  socketDir: string,
  progress: Progress,
  allImpls: readonly Impl[] = IMPLS,
  profileDir?: string,
): Promise<ScenarioResult> {
  const started = Date.now();
  const impls = implsFor(def.id, transport, allImpls);
  const result: ScenarioResult = {
    id: def.id,
    n: def.n,
    title: def.title,
    transport,
    ok: false,
    params: {},
    metrics: {},
    runs: {},
    seconds: 0,
  };
  const nClients = def.id === 'fanout-10' ? 10 : def.id === 'ingress-8' ? 8 : 1;
  let run: (c: Cluster, impl: Impl) => Promise<Metrics>;
  let keys: string[];
  switch (def.id) {
    case 'broadcast-1':
    case 'fanout-10':
    case 'large-64k': {
      const count = def.id === 'broadcast-1' ? plan.broadcastCount : def.id === 'fanout-10' ? plan.fanoutCount : plan.largeCount;
      const payloadBytes = def.id === 'large-64k' ? LARGE : SMALL;
      result.params = { count, payloadBytes, clients: nClients };
      run = (c, impl) => broadcastRun(c, impl, count, payloadBytes);
      keys = def.id === 'large-64k' ? ['MBps', 'msgsPerSec'] : def.id === 'fanout-10' ? ['totalMsgsPerSec', 'msgsPerSec'] : ['msgsPerSec', 'MBps'];
      break;
    }
    case 'reqrep':
      result.params = {
        count: plan.reqrepCount,
        warmup: plan.reqrepWarmup,
        payloadBytes: SMALL,
        clients: 1,
        slices: REQREP_SLICES,
      };
      run = async () => ({});
      keys = ['p50Us', 'p99Us', 'meanUs'];
      break;
    case 'ingress-8':
      result.params = { countPerWriter: plan.ingressPerWriter, writers: nClients, payloadBytes: SMALL };
      run = (c, impl) => ingressRun(c, impl, plan.ingressPerWriter);
      keys = ['msgsPerSec', 'MBps'];
      break;
    default:
      throw new Error(`not a scenario 1-5: ${def.id}`);
  }
  let cluster: Cluster | undefined;
  try {
    progress.detail(`starting ${1 + nClients} processes (server + ${nClients} ${def.id === 'ingress-8' ? 'writers' : 'clients'})`);
    cluster = await spawnCluster(nClients, transport, socketDir, def.id.replace(/-/g, '_'), plan, impls);
    progress.detail(`warm-up run of ${impls.join(', ')}`);
    if (def.id === 'reqrep') await reqrepRuns(cluster, impls, plan.reqrepWarmup, 0, 0);
    else for (const impl of impls) await run(cluster, impl);
    const profiled =
      profileDir === undefined
        ? []
        : [
            { role: 'server', w: cluster.server },
            { role: 'client', w: cluster.clients[0]! },
          ];
    for (const p of profiled) await p.w.call('profileStart');
    for (let rep = 0; rep < plan.reps; rep++) {
      const parts: string[] = [];
      if (def.id === 'reqrep') {
        const ms = await reqrepRuns(cluster, impls, plan.reqrepCount, 100, rep);
        for (const impl of impls) {
          const m = ms.get(impl)!;
          (result.runs[impl] ??= []).push(m);
          parts.push(`${impl} ${fmtRun(m, keys)}`);
        }
      } else {
        for (const impl of rotate(impls, rep)) {
          const m = await run(cluster, impl);
          (result.runs[impl] ??= []).push(m);
          parts.push(`${impl} ${fmtRun(m, keys)}`);
        }
      }
      progress.detail(`run ${rep + 1}/${plan.reps}: ${parts.join(' | ')}`);
    }
    if (profiled.length > 0) {
      result.profile = [];
      for (const p of profiled) {
        const r = await p.w.call<{ busyMs: number; top: NonNullable<ScenarioResult['profile']>[number]['top'] }>('profileStop', {
          file: `${profileDir}/${p.role}.cpuprofile`,
          top: 12,
        });
        result.profile.push({ role: p.role, ...r });
      }
    }
    for (const impl of impls) result.metrics[impl] = medians(result.runs[impl] ?? []);
    if (def.id !== 'reqrep') result.params.frameBytes = result.metrics.socketkit?.frameBytes ?? result.metrics['raw-batched']?.frameBytes ?? 0;
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
    progress.detail(`FAILED: ${result.error}`);
  } finally {
    await cluster?.close();
    result.seconds = (Date.now() - started) / 1000;
  }
  return result;
}

/**
 * Scenario 6 over `transport`: a socketkit server broadcasting 64 KiB
 * messages (`plan.slowBytes` offered per run) to one fast client, alternating
 * runs without (unloaded) and with a second client that stopped reading
 * (loaded). Reports server RSS growth, the fast client's throughput and what
 * the slow-consumer policy did.
 */
export async function runSlowConsumer(transport: TransportKind, plan: Plan, socketDir: string, progress: Progress): Promise<SlowResult> {
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
    const [server, fast, slow] = await Promise.all([
      WorkerHandle.spawn('server', plan.execArgv),
      WorkerHandle.spawn('fast-client', plan.execArgv),
      WorkerHandle.spawn('slow-client', plan.execArgv),
    ]);
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
      const r = await server.call<SlowBroadcastResult>('slowBroadcast', { count: n, payloadBytes, drainEveryBytes }, 120_000);
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
    progress.detail(`warm-up done; each run offers ${(res.offeredBytes / 2 ** 20).toFixed(0)} MiB (${count} × ${probe.frameBytes} B frames) per client`);
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
    res.slowPendingMiB = median(dropped.filter((r) => r.slowPendingBytes >= 0).map((r) => r.slowPendingBytes / 2 ** 20));
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

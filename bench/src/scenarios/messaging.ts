/**
 * Scenarios 1–5 over one transport (broadcast, fan-out, 64 KiB messages,
 * request/reply round trips, ingress): the coordinator side (spawning
 * workers, arming clients, timing, medians).
 */
import { WorkerHandle, later } from '../harness/ipc.js';
import { latencySummary } from '../harness/latency.js';
import { formatNumber, median } from '../harness/stats.js';
import { IMPLS, type Address, type BroadcastResult, type CountResult, type Impl } from '../harness/types.js';
import type { TransportKind, WriteResult } from '../harness/types.js';
import { DRAIN_EVERY, LARGE, SMALL, implsFor, type Metrics, type Plan } from './plan.js';
import type { Progress, ScenarioDef, ScenarioId } from './plan.js';

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
  /**
   * With a profile directory: the top functions by self time of the server and the first client during the measured
   * runs.
   */
  profile?: Array<{
    role: string;
    busyMs: number;
    top: Array<{ name: string; location: string; selfMs: number; selfPercent: number }>;
  }>;
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
    const clients = await WorkerHandle.spawnAll(
      Array.from({ length: nClients }, (_, i) => ({ name: `client${i + 1}`, execArgv: plan.execArgv })),
    );
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
  return (await Promise.all([c.server, ...c.clients].map((w) => w.call<{ cpuUs: number }>('usage')))).map(
    (u) => u.cpuUs,
  );
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

/**
 * Slices per request/reply run: the implementations take turns every slice, so bursts of background load hit them
 * alike.
 */
const REQREP_SLICES = 5;

async function reqrepRuns(
  c: Cluster,
  impls: readonly Impl[],
  count: number,
  warmup: number,
  rep: number,
): Promise<Map<Impl, Metrics>> {
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
    c.clients.map((w) =>
      w.call<WriteResult>('write', { key: impl, count: perWriter, payloadBytes: SMALL, batchBytes: DRAIN_EVERY }),
    ),
  );
  const got = await wait;
  const seconds = (got.tLast - Math.min(...writes.map((w) => w.tStart))) / 1e9;
  const frameBytes = writes[0]!.frameBytes;
  return { msgsPerSec: total / seconds, MBps: (total * frameBytes) / seconds / 1e6, frameBytes, seconds };
}

function fmtRun(m: Metrics, keys: string[]): string {
  return keys.map((k) => `${k}=${formatNumber(m[k]!)}`).join(' ');
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
      const count =
        def.id === 'broadcast-1' ? plan.broadcastCount : def.id === 'fanout-10' ? plan.fanoutCount : plan.largeCount;
      const payloadBytes = def.id === 'large-64k' ? LARGE : SMALL;
      result.params = { count, payloadBytes, clients: nClients };
      run = (c, impl) => broadcastRun(c, impl, count, payloadBytes);
      keys =
        def.id === 'large-64k'
          ? ['MBps', 'msgsPerSec']
          : def.id === 'fanout-10'
            ? ['totalMsgsPerSec', 'msgsPerSec']
            : ['msgsPerSec', 'MBps'];
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
    progress.detail(
      `starting ${1 + nClients} processes (server + ${nClients} ${def.id === 'ingress-8' ? 'writers' : 'clients'})`,
    );
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
        const r = await p.w.call<{ busyMs: number; top: NonNullable<ScenarioResult['profile']>[number]['top'] }>(
          'profileStop',
          {
            file: `${profileDir}/${p.role}.cpuprofile`,
            top: 12,
          },
        );
        result.profile.push({ role: p.role, ...r });
      }
    }
    for (const impl of impls) result.metrics[impl] = medians(result.runs[impl] ?? []);
    if (def.id !== 'reqrep')
      result.params.frameBytes = result.metrics.socketkit?.frameBytes ?? result.metrics['raw-batched']?.frameBytes ?? 0;
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

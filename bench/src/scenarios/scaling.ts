/**
 * The scaling curve: fan-out of 100-byte messages to 1, 10, 100 and 1,000
 * clients over one transport, for socketkit and the raw ceiling. Clients share
 * processes: up to `CLIENT_PROCESSES` worker processes, the clients spread
 * evenly over them. Each point gets a fresh server process, so its memory
 * figures start from the same state. A point whose clients cannot all connect
 * is recorded with the error (and how many did connect), never thrown.
 */
import { WorkerHandle } from '../harness/ipc.js';
import { median } from '../harness/stats.js';
import type { Address, BroadcastResult, Impl, TransportKind } from '../harness/types.js';
import type { Plan, Progress } from './plan.js';

/** Client counts of the curve. */
export const SCALING_CLIENTS: readonly number[] = [1, 10, 100, 1000];
/** Most client worker processes; 1,000 clients are 100 per process. */
export const CLIENT_PROCESSES = 10;
/** Implementations on the curve: socketkit and the ceiling it is measured against. */
export const SCALING_IMPLS: readonly Impl[] = ['socketkit', 'raw-batched'];
const PAYLOAD = 100;
const DRAIN_EVERY = 64 * 1024;

/** One point of the curve (one implementation, one client count, one transport). */
export interface ScalingPoint {
  transport: TransportKind;
  impl: Impl;
  clients: number;
  processes: number;
  ok: boolean;
  /** Why the point failed (connect errors, timeouts), '' when it did not. */
  error: string;
  /** Clients that connected (all of them when ok). */
  connected: number;
  /** Messages broadcast per run (each delivered to every client). */
  count: number;
  /** Clients connected per second, all connecting at once. */
  connectsPerSec: number;
  /** Server RSS growth per connected idle client (after a forced GC), bytes. */
  rssPerClient: number;
  /** Server JS heap growth per connected idle client (after a forced GC), bytes. */
  heapPerClient: number;
  /** Delivered messages per second, all clients together (median of the runs). */
  deliveredPerSec: number;
  /** CPU time of the server and every client process per delivered message, µs. */
  cpuUsPerMsg: number;
  /** CPU time of the server process alone per delivered message, µs. */
  serverCpuUsPerMsg: number;
  /** Bytes the server process wrote (write syscalls, /proc/self/io) per delivered message. */
  bytesPerMsg: number;
  frameBytes: number;
}

interface Usage {
  cpuUs: number;
  rss: number;
  heapUsed: number;
  wchar: number;
}

/** Runs the curve over `transport`; never throws for a failed point. */
export async function runScaling(
  transport: TransportKind,
  plan: Plan,
  socketDir: string,
  progress: Progress,
  impls: readonly Impl[],
): Promise<ScalingPoint[]> {
  const points: ScalingPoint[] = [];
  const clientsOf = SCALING_CLIENTS.filter((n) => n <= plan.scalingMaxClients);
  const nProc = Math.min(CLIENT_PROCESSES, Math.max(...clientsOf));
  progress.detail(`starting ${nProc} client processes (clients spread evenly over them)`);
  const workers = await WorkerHandle.spawnAll(
    Array.from({ length: nProc }, (_, i) => ({ name: `scale-client${i + 1}`, execArgv: plan.execArgv })),
  );
  try {
    for (const n of clientsOf) {
      for (const impl of SCALING_IMPLS.filter((i) => impls.includes(i))) {
        const p = await scalingPoint(transport, impl, n, workers.slice(0, Math.min(nProc, n)), plan, socketDir);
        points.push(p);
        progress.detail(
          p.ok
            ? `${String(n).padStart(4)} clients, ${impl}: ${(p.deliveredPerSec / 1e3).toFixed(0)}k ` +
                `msg/s delivered, ${p.cpuUsPerMsg.toFixed(2)} µs CPU and ${p.bytesPerMsg.toFixed(0)} B ` +
                `written per delivered message, ${p.connectsPerSec.toFixed(0)} ` +
                `connects/s, ${(p.rssPerClient / 1024).toFixed(1)} KiB RSS per idle client`
            : `${String(n).padStart(4)} clients, ${impl}: FAILED (${p.connected} of ${n} connected): ${p.error}`,
        );
      }
    }
  } finally {
    await Promise.allSettled(workers.map((w) => w.close()));
  }
  return points;
}

async function scalingPoint(
  transport: TransportKind,
  impl: Impl,
  n: number,
  clients: WorkerHandle[],
  plan: Plan,
  socketDir: string,
): Promise<ScalingPoint> {
  const count = Math.max(50, Math.ceil(plan.scalingDeliveries / n));
  const p: ScalingPoint = {
    transport,
    impl,
    clients: n,
    processes: clients.length,
    ok: false,
    error: '',
    connected: 0,
    count,
    connectsPerSec: NaN,
    rssPerClient: NaN,
    heapPerClient: NaN,
    deliveredPerSec: NaN,
    cpuUsPerMsg: NaN,
    serverCpuUsPerMsg: NaN,
    bytesPerMsg: NaN,
    frameBytes: NaN,
  };
  const prefix = `s${n}_${impl}_`;
  let server: WorkerHandle | undefined;
  try {
    server = await WorkerHandle.spawn(`scale-server-${n}`, plan.execArgv);
    const address = await server.call<Address>('startServer', {
      impl,
      transport,
      eventName: `scale_${n}_${impl.replace('-', '_')}_${transport}`,
      socketDir,
      maxConnections: n + 16,
    });
    // One connect and disconnect per process first: the first connection's lazy set-up and JIT are not part of the
    // rate.
    await Promise.all(
      clients.map((w) => w.call('connectMany', { impl, prefix: `${prefix}warm`, count: 1, address }, 60_000)),
    );
    await Promise.all(clients.map((w) => w.call('closeMany', { prefix: `${prefix}warm` }, 30_000)));
    await server.call('waitClients', { impl, n: 0, exact: true, timeoutMs: 10_000 });
    const base = await server.call<Usage>('usage', { gc: true });
    // Clients spread evenly; all connect at once (what a fleet restarting together does).
    const share = clients.map((_, i) => Math.floor(n / clients.length) + (i < n % clients.length ? 1 : 0));
    const conns = await Promise.all(
      clients.map((w, i) =>
        w.call<{ t0: number; t1: number; connected: number; failed: number; error: string }>(
          'connectMany',
          { impl, prefix, count: share[i], address },
          120_000,
        ),
      ),
    );
    p.connected = conns.reduce((a, c) => a + c.connected, 0);
    p.connectsPerSec =
      p.connected / ((Math.max(...conns.map((c) => c.t1)) - Math.min(...conns.map((c) => c.t0))) / 1e9);
    const errors = conns.filter((c) => c.failed > 0);
    if (errors.length > 0) {
      p.error = `${n - p.connected} of ${n} connects failed; first error: ${errors[0]!.error}`;
      return p;
    }
    await server.call('waitClients', { impl, n, timeoutMs: 30_000 });
    const idle = await server.call<Usage>('usage', { gc: true });
    p.rssPerClient = (idle.rss - base.rss) / n;
    p.heapPerClient = (idle.heapUsed - base.heapUsed) / n;
    const runs: Array<{ rate: number; cpu: number; serverCpu: number; bytes: number }> = [];
    for (let rep = 0; rep < 1 + plan.reps; rep++) {
      await Promise.all(clients.map((w) => w.call('armMany', { prefix, count })));
      const u0 = await Promise.all([server, ...clients].map((w) => w.call<Usage>('usage')));
      const waits = clients.map((w) => w.call<{ tLast: number }>('waitMany', { prefix }, 120_000));
      waits.forEach((w) => w.catch(() => undefined));
      const sent = await server.call<BroadcastResult>(
        'broadcast',
        { impl, count, payloadBytes: PAYLOAD, drainEveryBytes: DRAIN_EVERY },
        120_000,
      );
      const got = await Promise.all(waits);
      const u1 = await Promise.all([server, ...clients].map((w) => w.call<Usage>('usage')));
      const delivered = count * n;
      const cpu = u1.reduce((a, u, i) => a + u.cpuUs - u0[i]!.cpuUs, 0);
      p.frameBytes = sent.frameBytes;
      // The first run is a warm-up.
      if (rep > 0)
        runs.push({
          rate: delivered / ((Math.max(...got.map((g) => g.tLast)) - sent.t0) / 1e9),
          cpu: cpu / delivered,
          serverCpu: (u1[0]!.cpuUs - u0[0]!.cpuUs) / delivered,
          bytes: (u1[0]!.wchar - u0[0]!.wchar) / delivered,
        });
    }
    p.deliveredPerSec = median(runs.map((r) => r.rate));
    p.cpuUsPerMsg = median(runs.map((r) => r.cpu));
    p.serverCpuUsPerMsg = median(runs.map((r) => r.serverCpu));
    p.bytesPerMsg = median(runs.map((r) => r.bytes));
    p.ok = true;
  } catch (err) {
    p.error = err instanceof Error ? err.message.split('\n')[0]! : String(err);
  } finally {
    await Promise.allSettled(clients.map((w) => w.call('closeMany', { prefix }, 30_000)));
    await server?.close();
  }
  return p;
}

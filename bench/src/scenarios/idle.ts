/**
 * [issue 28: idle clients] A scaling step further than the curve of scenario 7: 1, 10, 100, 1,000 and 10,000 idle
 * socketkit clients on one server, over unix and over tcp. Per point: memory per idle client (server RSS and JS
 * heap, and the same on the client side, after a forced GC), the CPU the idle fleet costs per client and second
 * (server heartbeats on), and the fan-out CPU per delivered message (server + every client process, and the
 * server alone). The curve should stay flat from 1 to 10,000.
 *
 * The clients share a few worker processes (`IDLE_CLIENT_PROCESSES`), never one process each. Every process of
 * the scenario is started with its open-file limit raised (`ulimit -n`, through `/bin/sh`, see
 * {@link WorkerHandle.spawn}). The server's admission limits are set explicitly ({@link idleServerOptions}).
 */
import { WorkerHandle } from '../harness/ipc.js';
import { formatNumber, median } from '../harness/stats.js';
import type { Address, BroadcastResult, TransportKind } from '../harness/types.js';
import type { Target } from '../report/results.js';
import { fmtRatio, type Table } from '../report/tables.js';
import type { Plan, Progress } from './plan.js';

/** Client counts of the full run. */
export const IDLE_CLIENTS: readonly number[] = [1, 10, 100, 1000, 10_000];
/** Client counts of `--quick` (2,000 is still above the usual default of 1,024 open files). */
export const IDLE_CLIENTS_QUICK: readonly number[] = [1, 10, 100, 1000, 2000];
/** Client worker processes (10,000 clients = 2,500 per process). */
export const IDLE_CLIENT_PROCESSES = 4;
/**
 * Connects in flight per client process (4 × 100 = 400 handshakes at once at most): a fleet of 10,000 all
 * connecting in the same instant waits longer than the client's default handshake timeout (5 s) on a loaded
 * 2-core host; that default stays (a server that does not answer within 5 s is one to report).
 */
export const IDLE_CONNECT_CONCURRENCY = 100;
/** Tries per client: one whose handshake timed out on the loaded host connects again (counted in `retries`). */
export const IDLE_CONNECT_ATTEMPTS = 3;
/** Open-file limit asked for every process of the scenario (the hard limit when that is lower). */
export const IDLE_NOFILE = 65_536;
/**
 * Server heartbeat interval of the scenario (ms): what a fleet of long-lived idle clients runs with. Not 1 s: at
 * 1 s (timeout 3 s) 10,000 clients on a loaded 2-core host could not all answer in time (9,917 were dropped with
 * a heartbeat timeout in a run tried here): 10,000 pings and pongs a second is most of a core.
 * `BENCH_IDLE_HEARTBEAT_MS` sets another (A/B runs of the heartbeat's cost).
 */
export const IDLE_HEARTBEAT_MS = Number(process.env.BENCH_IDLE_HEARTBEAT_MS ?? 5000);
/** The flatness bound of the targets: a figure at the largest count ≤ this × the same figure at the reference. */
export const IDLE_FLAT = 1.2;
const PAYLOAD = 100;
/**
 * Messages per turn of the server's event loop in the fan-out runs: each client gets its messages in writes of
 * this many frames at every client count (20 is the whole run at 10,000 clients). Without it a client's writes
 * held every message of the run, 20 at 10,000 clients and 440 at 100, and CPU per delivered message compared
 * write sizes, not client counts.
 */
export const IDLE_TICK_MESSAGES = 20;
const DRAIN_EVERY = 64 * 1024;

/**
 * The server options of the scenario, every admission limit explicit:
 * - `maxConnections`: clients + 16. Its default (10) is what keeps 10,000 clients out: it stays the default, a
 *   server's fleet size (descriptors and memory) is a decision of its own, not something a default should take;
 * - `maxUnauthenticated`: 32, the default. Without a token the pre-admission bound is that plus the free client
 *   slots, so a fleet connecting at once is never evicted;
 * - `backlog`: 4096 (the default 511 is enough too: a unix client retries `EAGAIN` from a full backlog, and a
 *   TCP SYN the kernel dropped is sent again, but each retry costs a connect up to a second);
 * - `registerGraceMs` and the hello window (50 ms) are left: socketkit clients say hello at once, and no
 *   broadcast is written while the fleet connects;
 * - `heartbeatInterval`: {@link IDLE_HEARTBEAT_MS}, so an idle fleet costs what its heartbeats cost.
 */
export function idleServerOptions(clients: number): Record<string, unknown> {
  return { maxUnauthenticated: 32, backlog: 4096, heartbeatInterval: IDLE_HEARTBEAT_MS, maxConnections: clients + 16 };
}

/** One point of the idle curve (one transport, one client count). */
export interface IdlePoint {
  transport: TransportKind;
  clients: number;
  processes: number;
  ok: boolean;
  /** Why the point failed, '' when it did not. */
  error: string;
  connected: number;
  /** Seconds from the first connect started to the last one done (all processes connecting at once). */
  connectSeconds: number;
  /** Connects that failed (handshake timeout on a loaded host) and were tried again. */
  connectRetries: number;
  /** CPU of the server process while the fleet connected, per client, µs (flat when admission is O(1)). */
  connectServerCpuUs: number;
  /** Server RSS growth per idle client, bytes (after a forced GC). */
  serverRssPerClient: number;
  /** Server JS heap growth per idle client, bytes (after a forced GC). */
  serverHeapPerClient: number;
  /** Client processes' RSS growth per idle client, bytes (all client processes together). */
  clientRssPerClient: number;
  /** Client processes' JS heap growth per idle client, bytes. */
  clientHeapPerClient: number;
  /** Server RSS growth per client once idle again after the fan-out runs (buffers kept per peer show here). */
  serverRssAfterPerClient: number;
  /** Client processes' RSS growth per client once idle again after the fan-out runs. */
  clientRssAfterPerClient: number;
  /** CPU of the server while the fleet idles (heartbeats only), µs per client per second. */
  idleServerCpuUs: number;
  /** CPU of the client processes while the fleet idles, µs per client per second. */
  idleClientCpuUs: number;
  /** Messages broadcast per fan-out run (each delivered to every client). */
  count: number;
  /** Delivered messages per second (median of the runs). */
  deliveredPerSec: number;
  /** CPU of the server and every client process per delivered message, µs (median). */
  cpuUsPerMsg: number;
  /** CPU of the server alone per delivered message, µs (median). */
  serverCpuUsPerMsg: number;
  /** The server's system (kernel) CPU per delivered message, µs (median). */
  serverSysUsPerMsg: number;
  /** The server's main thread's CPU per delivered message, µs (median; the rest is GC helpers and libuv threads). */
  serverMainUsPerMsg: number;
}

/** What the idle scenario gives. */
export interface IdleResults {
  points: IdlePoint[];
  /** Open-file limits the processes got (`ulimit -n`), per transport run: server and client processes. */
  nofile: { server: number; client: number };
  heartbeatMs: number;
  errors: string[];
}

interface Usage {
  cpuUs: number;
  sysUs: number;
  mainCpuUs: number;
  rss: number;
  heapUsed: number;
}

/** Runs the idle curve over each of `transports` (unix, tcp); never throws for a failed point. */
export async function runIdle(
  transports: readonly TransportKind[],
  plan: Plan,
  socketDir: string,
  progress: Progress,
): Promise<IdleResults> {
  const out: IdleResults = {
    points: [],
    nofile: { server: NaN, client: NaN },
    heartbeatMs: IDLE_HEARTBEAT_MS,
    errors: [],
  };
  // BENCH_IDLE_CLIENTS=1000,10000: some counts only (interleaved A/B runs of a lever).
  const counts =
    process.env.BENCH_IDLE_CLIENTS?.split(',').map(Number) ?? (plan.quick ? IDLE_CLIENTS_QUICK : IDLE_CLIENTS);
  for (const transport of transports.filter((t) => t === 'unix' || t === 'tcp')) {
    const nProc = IDLE_CLIENT_PROCESSES;
    const workers = await WorkerHandle.spawnAll(
      Array.from({ length: nProc }, (_, i) => ({
        name: `idle-client${i + 1}`,
        execArgv: plan.execArgv,
        nofile: IDLE_NOFILE,
      })),
    );
    try {
      out.nofile.client = Math.min(...(await Promise.all(workers.map((w) => w.call<number>('nofile')))));
      progress.detail(
        `${transport}: ${nProc} client processes, open-file limit ${out.nofile.client} each (asked ${IDLE_NOFILE})`,
      );
      for (const n of counts) {
        const p = await idlePoint(transport, n, workers.slice(0, Math.min(nProc, n)), plan, socketDir, out);
        out.points.push(p);
        if (!p.ok) out.errors.push(`${n} idle clients over ${transport}: ${p.error}`);
        progress.detail(
          p.ok
            ? `${String(n).padStart(5)} clients: connected in ${p.connectSeconds.toFixed(2)} s ` +
                `(server ${p.connectServerCpuUs.toFixed(0)} µs CPU per connect, ${p.connectRetries} retries); ` +
                'per idle client ' +
                `server ${kib(p.serverRssPerClient)} RSS, ${kib(p.serverHeapPerClient)} heap, clients ` +
                `${kib(p.clientRssPerClient)} RSS, ${kib(p.clientHeapPerClient)} heap; idle CPU ` +
                `${p.idleServerCpuUs.toFixed(1)} µs/client/s; fan-out ${p.cpuUsPerMsg.toFixed(2)} µs CPU ` +
                `(server ${p.serverCpuUsPerMsg.toFixed(2)}: system ${p.serverSysUsPerMsg.toFixed(2)}, main thread ` +
                `${p.serverMainUsPerMsg.toFixed(2)}) per delivered message, ` +
                `${formatNumber(p.deliveredPerSec)} msg/s`
            : `${String(n).padStart(5)} clients: FAILED (${p.connected} of ${n} connected, idle CPU ` +
                `${p.idleServerCpuUs.toFixed(1)} µs/client/s): ${p.error}`,
        );
      }
    } finally {
      await Promise.allSettled(workers.map((w) => w.close()));
    }
  }
  return out;
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

async function idlePoint(
  transport: TransportKind,
  n: number,
  clients: WorkerHandle[],
  plan: Plan,
  socketDir: string,
  out: IdleResults,
): Promise<IdlePoint> {
  const deliveries = plan.quick ? 50_000 : 200_000;
  const count = Math.max(20, Math.ceil(deliveries / n));
  const p: IdlePoint = {
    transport,
    clients: n,
    processes: clients.length,
    ok: false,
    error: '',
    connected: 0,
    connectSeconds: NaN,
    connectServerCpuUs: NaN,
    connectRetries: 0,
    serverRssPerClient: NaN,
    serverHeapPerClient: NaN,
    clientRssPerClient: NaN,
    clientHeapPerClient: NaN,
    serverRssAfterPerClient: NaN,
    clientRssAfterPerClient: NaN,
    idleServerCpuUs: NaN,
    idleClientCpuUs: NaN,
    count,
    deliveredPerSec: NaN,
    cpuUsPerMsg: NaN,
    serverCpuUsPerMsg: NaN,
    serverSysUsPerMsg: NaN,
    serverMainUsPerMsg: NaN,
  };
  const prefix = `idle${n}_`;
  const impl = 'socketkit';
  let server: WorkerHandle | undefined;
  const all = (): WorkerHandle[] => [server!, ...clients];
  try {
    server = await WorkerHandle.spawn(`idle-server-${n}`, plan.execArgv, undefined, IDLE_NOFILE);
    out.nofile.server = await server.call<number>('nofile');
    const perProcess = Math.ceil(n / clients.length);
    if (out.nofile.server < n + 64 || out.nofile.client < perProcess + 64) {
      p.error =
        `open-file limits too low for ${n} clients (server ${out.nofile.server}, clients ${out.nofile.client}; ` +
        `${n + 64} and ${perProcess + 64} needed): raise the hard limit (ulimit -Hn, LimitNOFILE=)`;
      return p;
    }
    const address = await server.call<Address>('startServer', {
      impl,
      transport,
      eventName: `idle_${n}_${transport}`,
      socketDir,
      maxConnections: n + 16,
      serverOptions: idleServerOptions(n),
    });
    // One connect and disconnect per process first: lazy set-up and JIT are not part of the figures.
    await Promise.all(
      clients.map((w) => w.call('connectMany', { impl, prefix: `${prefix}warm`, count: 1, address }, 60_000)),
    );
    await Promise.all(clients.map((w) => w.call('closeMany', { prefix: `${prefix}warm` }, 30_000)));
    await server.call('waitClients', { impl, n: 0, exact: true, timeoutMs: 10_000 });
    const base = await Promise.all(all().map((w) => w.call<Usage>('usage', { gc: true })));
    const share = clients.map((_, i) => Math.floor(n / clients.length) + (i < n % clients.length ? 1 : 0));
    const conns = await Promise.all(
      clients.map((w, i) =>
        w.call<{ t0: number; t1: number; connected: number; failed: number; retries: number; error: string }>(
          'connectMany',
          {
            impl,
            prefix,
            count: share[i],
            address,
            concurrency: IDLE_CONNECT_CONCURRENCY,
            attempts: IDLE_CONNECT_ATTEMPTS,
          },
          300_000,
        ),
      ),
    );
    p.connected = conns.reduce((a, c) => a + c.connected, 0);
    p.connectRetries = conns.reduce((a, c) => a + c.retries, 0);
    p.connectSeconds = (Math.max(...conns.map((c) => c.t1)) - Math.min(...conns.map((c) => c.t0))) / 1e9;
    const failed = conns.find((c) => c.failed > 0);
    if (failed !== undefined) {
      p.error = `${n - p.connected} of ${n} connects failed; first error: ${failed.error}`;
      return p;
    }
    await server.call('waitClients', { impl, n, timeoutMs: 120_000 }, 130_000);
    const idle = await Promise.all(all().map((w) => w.call<Usage>('usage', { gc: true })));
    p.connectServerCpuUs = (idle[0]!.cpuUs - base[0]!.cpuUs) / n;
    const grow = (k: 'rss' | 'heapUsed', from: number, to: number): number => {
      let sum = 0;
      for (let i = from; i < to; i++) sum += idle[i]![k] - base[i]![k];
      return sum / n;
    };
    p.serverRssPerClient = grow('rss', 0, 1);
    p.serverHeapPerClient = grow('heapUsed', 0, 1);
    p.clientRssPerClient = grow('rss', 1, idle.length);
    p.clientHeapPerClient = grow('heapUsed', 1, idle.length);
    // The fleet idles: only heartbeats (a ping and its pong per client and interval).
    const idleMs = Math.max(IDLE_HEARTBEAT_MS, 5000); // every client pinged at least once
    const i0 = await Promise.all(all().map((w) => w.call<Usage>('usage')));
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, idleMs));
    const i1 = await Promise.all(all().map((w) => w.call<Usage>('usage')));
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = (from: number, to: number): number => {
      let sum = 0;
      for (let i = from; i < to; i++) sum += i1[i]!.cpuUs - i0[i]!.cpuUs;
      return sum;
    };
    p.idleServerCpuUs = cpu(0, 1) / n / secs;
    p.idleClientCpuUs = cpu(1, i1.length) / n / secs;
    // Fan-out: every idle client gets `count` 100-byte broadcasts.
    const runs: Array<{ rate: number; cpu: number; serverCpu: number; sys: number; main: number }> = [];
    // BENCH_IDLE_PROFILE=DIR: the server's fan-out runs under V8's sampling profiler (top functions on stderr).
    const profileDir = process.env.BENCH_IDLE_PROFILE;
    if (profileDir !== undefined) await server.call('profileStart');
    for (let rep = 0; rep < 1 + plan.reps; rep++) {
      await Promise.all(clients.map((w) => w.call('armMany', { prefix, count }, 60_000)));
      const u0 = await Promise.all(all().map((w) => w.call<Usage>('usage')));
      const waits = clients.map((w) => w.call<{ tLast: number }>('waitMany', { prefix }, 180_000));
      for (const w of waits) w.catch(() => undefined);
      const sent = await server.call<BroadcastResult>(
        'broadcast',
        { impl, count, payloadBytes: PAYLOAD, drainEveryBytes: DRAIN_EVERY, tickEvery: IDLE_TICK_MESSAGES },
        180_000,
      );
      const got = await Promise.all(waits);
      const u1 = await Promise.all(all().map((w) => w.call<Usage>('usage')));
      const delivered = count * n;
      const total = u1.reduce((a, u, i) => a + u.cpuUs - u0[i]!.cpuUs, 0);
      // The first run is a warm-up.
      if (rep > 0)
        runs.push({
          rate: delivered / ((Math.max(...got.map((g) => g.tLast)) - sent.t0) / 1e9),
          cpu: total / delivered,
          serverCpu: (u1[0]!.cpuUs - u0[0]!.cpuUs) / delivered,
          sys: (u1[0]!.sysUs - u0[0]!.sysUs) / delivered,
          main: (u1[0]!.mainCpuUs - u0[0]!.mainCpuUs) / delivered,
        });
    }
    if (profileDir !== undefined) {
      const file = `${profileDir}/idle-server-${transport}-${n}.cpuprofile`;
      const top = await server.call<{ busyMs: number; top: Array<{ name: string; selfPercent: number }> }>(
        'profileStop',
        { file, top: 25 },
      );
      const rows = top.top.map((r) => `${r.selfPercent.toFixed(1).padStart(5)} %  ${r.name}`);
      process.stderr.write(`server profile, ${n} clients (${top.busyMs.toFixed(0)} ms busy):\n${rows.join('\n')}\n`);
    }
    p.deliveredPerSec = median(runs.map((r) => r.rate));
    p.cpuUsPerMsg = median(runs.map((r) => r.cpu));
    p.serverCpuUsPerMsg = median(runs.map((r) => r.serverCpu));
    p.serverSysUsPerMsg = median(runs.map((r) => r.sys));
    p.serverMainUsPerMsg = median(runs.map((r) => r.main));
    const after = await Promise.all(all().map((w) => w.call<Usage>('usage', { gc: true })));
    p.serverRssAfterPerClient = (after[0]!.rss - base[0]!.rss) / n;
    p.clientRssAfterPerClient = after.slice(1).reduce((a, u, i) => a + u.rss - base[i + 1]!.rss, 0) / n;
    p.ok = true;
  } catch (err) {
    p.error = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    const gone = await server
      ?.call<Record<string, number>>('disconnects', {}, 10_000)
      .catch(() => ({}) as Record<string, number>);
    const why = Object.entries(gone ?? {}).map(([reason, k]) => `${k} × ${reason}`);
    if (why.length > 0) p.error += `; clients the server lost: ${why.join(', ')}`;
  } finally {
    await Promise.allSettled(clients.map((w) => w.call('closeMany', { prefix }, 60_000)));
    await server?.close();
  }
  return p;
}

/**
 * Targets (issue 28 item 5, "flat from 1 to 10,000"), per transport: every client of the largest count connects;
 * fan-out CPU per delivered message at the largest count ≤ {@link IDLE_FLAT}× that at 10 clients (1 client is
 * a broadcast to a single socket, a different shape of work); server memory (RSS) per idle client at the largest
 * count ≤ {@link IDLE_FLAT}× that at 1,000 (below 1,000 clients allocator granularity is most of the figure).
 */
export function idleTargets(idle: IdleResults): Target[] {
  const out: Target[] = [];
  for (const transport of ['unix', 'tcp'] as const) {
    const pts = idle.points.filter((p) => p.transport === transport);
    if (pts.length === 0) continue;
    const top = pts.reduce((a, b) => (b.clients > a.clients ? b : a));
    const at = (n: number): IdlePoint | undefined => pts.find((p) => p.clients === n && p.ok);
    const label = top.clients.toLocaleString('en-US');
    out.push({
      target: `${label} idle clients connect to one server`,
      transport,
      measured: top.ok ? `${top.connected} in ${top.connectSeconds.toFixed(1)} s` : `${top.connected}: ${top.error}`,
      met: top.ok,
    });
    const ten = at(10);
    if (top.ok && ten !== undefined) {
      const r = top.cpuUsPerMsg / ten.cpuUsPerMsg;
      out.push({
        target: `Fan-out CPU per delivered message, ${label} clients ≤ ${IDLE_FLAT}× at 10`,
        transport,
        measured: `${fmtRatio(r)} (${top.cpuUsPerMsg.toFixed(2)} vs ${ten.cpuUsPerMsg.toFixed(2)} µs)`,
        met: r <= IDLE_FLAT,
      });
    }
    const k = at(1000);
    if (top.ok && k !== undefined && top !== k) {
      const r = top.serverRssPerClient / k.serverRssPerClient;
      out.push({
        target: `Server memory per idle client, ${label} clients ≤ ${IDLE_FLAT}× at 1,000`,
        transport,
        measured: `${fmtRatio(r)} (${kib(top.serverRssPerClient)} vs ${kib(k.serverRssPerClient)} RSS)`,
        met: r <= IDLE_FLAT,
      });
    }
  }
  return out;
}

/** The text / markdown table of the idle curve. */
export function idleTables(idle: IdleResults): Array<{ title: string; table: Table }> {
  const f = (v: number, d = 2): string => (Number.isFinite(v) ? v.toFixed(d) : '–');
  const k = (v: number): string => (Number.isFinite(v) ? (v / 1024).toFixed(1) : '–');
  return [
    {
      title:
        `Idle clients: memory per idle client, idle CPU (server heartbeat every ${idle.heartbeatMs} ms) and fan-out ` +
        `CPU per delivered message (open files: server ${idle.nofile.server}, client processes ${idle.nofile.client})`,
      table: {
        header: [
          'transport',
          'clients',
          'connect s',
          'server CPU µs / connect',
          'connect retries',
          'server RSS KiB / client',
          'server heap KiB / client',
          'client RSS KiB / client',
          'client heap KiB / client',
          'server RSS KiB / client after fan-out',
          'client RSS KiB / client after fan-out',
          'idle server CPU µs / client / s',
          'idle client CPU µs / client / s',
          'fan-out CPU µs / msg',
          'server CPU µs / msg',
          'of it system',
          'of it main thread',
          'delivered msg/s',
        ],
        right: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
        rows: idle.points.map((p) =>
          p.ok
            ? [
                p.transport,
                String(p.clients),
                f(p.connectSeconds),
                f(p.connectServerCpuUs, 0),
                String(p.connectRetries),
                k(p.serverRssPerClient),
                k(p.serverHeapPerClient),
                k(p.clientRssPerClient),
                k(p.clientHeapPerClient),
                k(p.serverRssAfterPerClient),
                k(p.clientRssAfterPerClient),
                f(p.idleServerCpuUs),
                f(p.idleClientCpuUs),
                f(p.cpuUsPerMsg),
                f(p.serverCpuUsPerMsg),
                f(p.serverSysUsPerMsg),
                f(p.serverMainUsPerMsg),
                formatNumber(p.deliveredPerSec),
              ]
            : [
                p.transport,
                String(p.clients),
                `FAILED (${p.connected} connected): ${p.error}`,
                ...Array<string>(15).fill(''),
              ],
        ),
      },
    },
  ];
}

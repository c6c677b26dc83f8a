/**
 * A benchmark worker process: hosts the servers or the clients of one
 * scenario (socketkit and the raw baselines side by side) and runs the
 * commands the coordinator (`run.js`) sends over the fork IPC channel.
 */
import { serveCommands } from './serve-commands.js';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { summarizeProfile, type CpuProfile } from '../report/profile-summary.js';
import { makeData } from './payload.js';
import { makeShape, type ShapeName } from './shapes.js'; // [issue 28: payload shapes]
import { childrenCpuUs } from './proc.js';
import { RawClient, RawServer } from '../contenders/raw.js';
import { hrNow } from './stats.js';
import type {
  Address,
  BroadcastResult,
  CountResult,
  Impl,
  SlowBroadcastOptions,
  TransportKind,
  WriteResult,
} from './types.js';

/** What every server implementation offers the coordinator. */
interface ServerLike {
  start(t: TransportKind, dir: string): Promise<Address>;
  clientCount(): number;
  stop(): Promise<void>;
  broadcast(
    count: number,
    data: Record<string, unknown>,
    drainEveryBytes: number,
    tickEvery?: number,
  ): Promise<BroadcastResult>;
  armIngress(total: number): void;
  waitIngress(): Promise<CountResult>;
}
/** What every client implementation offers the coordinator. */
interface ClientLike {
  arm(count: number): void | Promise<void>;
  waitCount(): Promise<CountResult>;
  requests(count: number, warmup: number, data: Record<string, unknown>): Promise<number[]>;
  write(count: number, data: Record<string, unknown>, batchBytes: number): Promise<WriteResult>;
  close(): Promise<void>;
}

const servers = new Map<string, ServerLike>();
let profiler: Session | undefined;

async function preload(impl: Impl): Promise<void> {
  if (impl === 'socketkit') await loadSk();
  else if (impl === 'zeromq') await import('../contenders/zeromq.js').then((m) => m.loadZmq());
  else if (impl === 'nats-raw') await import('../contenders/nats-raw.js');
}

async function connectClient(impl: Impl, address: Address, slow: boolean): Promise<ClientLike> {
  switch (impl) {
    case 'socketkit': {
      const c = new (await loadSk()).SkClient(address, slow);
      await c.connect();
      return c;
    }
    case 'zeromq':
      return (await import('../contenders/zeromq.js')).ZmqClient.connect(address);
    case 'python':
      return (await import('../contenders/python.js')).PyClient.connect(address);
    case 'nats-raw':
      return (await import('../contenders/nats-raw.js')).NatsRawClient.connect(address);
    default:
      return RawClient.connect(address, impl === 'raw-batched');
  }
}
const clients = new Map<string, ClientLike>();
const skServers = new Map<string, import('../contenders/socketkit.js').SkServer>();
const dataCache = new Map<number, Record<string, unknown>>();
let sk: typeof import('../contenders/socketkit.js') | undefined;

/** socketkit is imported only by workers that use it, so raw-only processes carry none of it. */
async function loadSk(): Promise<typeof import('../contenders/socketkit.js')> {
  sk ??= await import('../contenders/socketkit.js');
  return sk;
}

function data(bytes: number): Record<string, unknown> {
  let d = dataCache.get(bytes);
  if (d === undefined) {
    d = makeData(bytes);
    dataCache.set(bytes, d);
  }
  return d;
}

function get<T>(map: Map<string, T>, key: string): T {
  const v = map.get(key);
  if (v === undefined) throw new Error(`no ${key} in this worker`);
  return v;
}

type Args = Record<string, unknown>;
const str = (a: Args, k: string): string => a[k] as string;
const num = (a: Args, k: string): number => a[k] as number;

const commands: Record<string, (a: Args) => unknown> = {
  ping: () => ({ pid: process.pid }),
  /** [issue 28: idle clients] This process's open-file limit (soft), from /proc/self/limits (NaN elsewhere). */
  nofile: () => {
    try {
      return Number(/Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1] ?? NaN);
    } catch {
      return NaN;
    }
  },

  async startServer(a) {
    const impl = str(a, 'impl') as Impl;
    const transport = str(a, 'transport') as TransportKind;
    const eventName = str(a, 'eventName');
    let server: ServerLike;
    if (impl === 'socketkit') {
      const s = new (await loadSk()).SkServer(
        transport,
        eventName,
        str(a, 'socketDir'),
        a.drainTimeout as number | undefined,
        a.natsUrl as string | undefined,
        a.maxConnections as number | undefined,
        a.serverOptions as Record<string, unknown> | undefined, // [issue 28: idle clients]
      );
      skServers.set(impl, s);
      server = s;
    } else if (impl === 'zeromq') {
      server = new (await import('../contenders/zeromq.js')).ZmqServer(eventName);
    } else if (impl === 'python') {
      server = new (await import('../contenders/python.js')).PyServer(eventName);
    } else if (impl === 'nats-raw') {
      server = new (await import('../contenders/nats-raw.js')).NatsRawServer(
        eventName,
        a.natsUrl as string | undefined,
      );
    } else {
      server = new RawServer(eventName, impl === 'raw-batched');
    }
    servers.set(impl, server);
    return server.start(transport, str(a, 'socketDir'));
  },

  async waitClients(a) {
    const s = get(servers, str(a, 'impl'));
    const deadline = Date.now() + ((a.timeoutMs as number | undefined) ?? 10_000);
    // `exact`: wait until exactly n are connected (e.g. 0 after disconnecting warm-up clients).
    while (a.exact === true ? s.clientCount() !== num(a, 'n') : s.clientCount() < num(a, 'n')) {
      if (Date.now() > deadline)
        throw new Error(
          `${s.clientCount()} clients connected, expected ${a.exact === true ? '' : 'at least '}${num(a, 'n')}`,
        );
      await new Promise((r) => setTimeout(r, 5));
    }
    return s.clientCount();
  },

  broadcast: (a) =>
    get(servers, str(a, 'impl')).broadcast(
      num(a, 'count'),
      // [issue 28: payload shapes] a named shape instead of a sized `{ payload }`
      a.shape === undefined ? data(num(a, 'payloadBytes')) : makeShape(a.shape as ShapeName),
      num(a, 'drainEveryBytes'),
      (a.tickEvery as number | undefined) ?? 0, // [issue 28: idle clients] socketkit only
    ),
  disconnects: () => get(skServers, 'socketkit').disconnects(), // [issue 28: idle clients]
  slowBroadcast: (a) => get(skServers, 'socketkit').slowBroadcast(a as unknown as SlowBroadcastOptions),
  armIngress: (a) => get(servers, str(a, 'impl')).armIngress(num(a, 'total')),
  waitIngress: (a) => get(servers, str(a, 'impl')).waitIngress(),
  async stopServer(a) {
    const impl = str(a, 'impl');
    await servers.get(impl)?.stop();
    servers.delete(impl);
    skServers.delete(impl);
  },

  async connect(a) {
    const impl = str(a, 'impl') as Impl;
    const key = str(a, 'key') ?? impl;
    clients.set(key, await connectClient(impl, a.address as Address, a.slow === true));
    return true;
  },
  /**
   * Connects `count` clients at once (keys `<prefix><i>`), or at most `concurrency` at a time when given (issue
   * 28's idle clients); failures are counted and the first error kept, never thrown: the scaling curve records them.
   */
  async connectMany(a) {
    const impl = str(a, 'impl') as Impl;
    const prefix = str(a, 'prefix');
    const count = num(a, 'count');
    const concurrency = (a.concurrency as number | undefined) ?? count;
    // [issue 28: idle clients] a client whose connect failed tries again, as a fleet's clients do (counted)
    const attempts = (a.attempts as number | undefined) ?? 1;
    let retries = 0;
    await preload(impl); // loading the library is not part of connecting
    const t0 = hrNow();
    const results: Array<PromiseSettledResult<unknown>> = [];
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        for (let attempt = 1; ; attempt++) {
          try {
            clients.set(`${prefix}${i}`, await connectClient(impl, a.address as Address, false));
            results.push({ status: 'fulfilled', value: undefined });
            break;
          } catch (reason) {
            if (attempt < attempts) {
              retries++;
              continue;
            }
            results.push({ status: 'rejected', reason });
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
    const t1 = hrNow();
    const failed = results.filter((r) => r.status === 'rejected');
    const first = failed[0] as PromiseRejectedResult | undefined;
    const err = first?.reason as (Error & { code?: string }) | undefined;
    return {
      t0,
      t1,
      connected: count - failed.length,
      failed: failed.length,
      retries,
      error: err === undefined ? '' : `${err.code ?? err.name}: ${err.message}`.slice(0, 300),
    };
  },
  armMany: async (a) => {
    for (const [key, c] of clients) if (key.startsWith(str(a, 'prefix'))) await c.arm(num(a, 'count'));
  },
  async waitMany(a) {
    const got = await Promise.all(
      [...clients].filter(([key]) => key.startsWith(str(a, 'prefix'))).map(([, c]) => c.waitCount()),
    );
    return { tLast: Math.max(...got.map((g) => g.tLast)), clients: got.length };
  },
  async closeMany(a) {
    const keys = [...clients.keys()].filter((key) => key.startsWith(str(a, 'prefix')));
    await Promise.allSettled(keys.map((key) => clients.get(key)!.close()));
    for (const key of keys) clients.delete(key);
  },
  /**
   * CPU time (µs, this process and its Python peer processes), RSS and heap
   * (bytes, after a forced GC when `gc` is set) and bytes written so far (/proc/self/io wchar).
   */
  usage(a) {
    if (a.gc === true) {
      globalThis.gc?.();
      globalThis.gc?.();
    }
    const cpu = process.cpuUsage();
    const mem = process.memoryUsage();
    let wchar = NaN;
    try {
      wchar = Number(/wchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))?.[1] ?? NaN);
    } catch {
      // not Linux: bytes per message are then not reported
    }
    // [issue 28: idle clients] the main (JS) thread's own CPU, apart from V8's GC helpers and libuv's threads
    let mainCpuUs = NaN;
    try {
      const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      mainCpuUs = (Number(f[11]) + Number(f[12])) * 10_000; // utime + stime, clock ticks of 10 ms
    } catch {
      // not Linux
    }
    return {
      cpuUs: cpu.user + cpu.system + childrenCpuUs(),
      sysUs: cpu.system,
      mainCpuUs,
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      external: mem.external,
      wchar,
    };
  },
  arm: (a) => get(clients, str(a, 'key')).arm(num(a, 'count')),
  waitCount: (a) => get(clients, str(a, 'key')).waitCount(),
  requests: (a) =>
    get(clients, str(a, 'key')).requests(num(a, 'count'), num(a, 'warmup'), data(num(a, 'payloadBytes'))),
  write: (a) => get(clients, str(a, 'key')).write(num(a, 'count'), data(num(a, 'payloadBytes')), num(a, 'batchBytes')),
  async disconnect(a) {
    const key = str(a, 'key');
    await clients.get(key)?.close();
    clients.delete(key);
  },

  /** Starts V8's sampling profiler in this process (only the measured runs get profiled, not start-up). */
  async profileStart() {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    await profiler.post('Profiler.start');
  },
  /** Stops the profiler, writes the profile to `file` (.cpuprofile) and returns the top functions by self time. */
  async profileStop(a) {
    if (profiler === undefined) throw new Error('profileStart was not called');
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    profiler = undefined;
    await writeFile(str(a, 'file'), JSON.stringify(profile));
    // idle, and the inspector stopping the profile
    const rows = summarizeProfile(profile as CpuProfile).filter(
      (r) => r.name !== '(idle)' && !(r.name === 'dispatch' && r.location === ''),
    );
    const busyMs = rows.reduce((sum, r) => sum + r.selfMs, 0);
    return { busyMs, top: rows.slice(0, num(a, 'top')).map((r) => ({ ...r, selfPercent: (r.selfMs * 100) / busyMs })) };
  },

  /** Decodes one frame through @socketkit/codec, then reads msgpackr's native-acceleration flag. */
  async info() {
    const { FrameDecoder, encodeFrame } = await import('@socketkit/codec');
    const { createMessage } = await import('@socketkit/protocol');
    new FrameDecoder().push(encodeFrame(createMessage('probe', 'data', { text: 'x'.repeat(200) })));
    const { isNativeAccelerationEnabled } = await import('msgpackr');
    return { pid: process.pid, msgpackrNative: isNativeAccelerationEnabled };
  },

  async exit() {
    await Promise.allSettled([...clients.values()].map((c) => c.close()));
    await Promise.allSettled([...servers.values()].map((s) => s.stop()));
    setImmediate(() => process.exit(0));
    return true;
  },
};

serveCommands(commands);

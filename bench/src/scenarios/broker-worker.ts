/**
 * Issue 25's broker bench: a worker process (forked by `scenarios/broker.ts` through `WorkerHandle`):
 * hosts a socketkit broker, task workers, RPC responders or submitters of every contender, and runs the
 * timed loops, the same code for every contender.
 */
import { serveCommands } from '../harness/serve-commands.js';
import type { BrokerEndpoint, BrokerMode, BrokerPeer, TaskBody } from '../contenders/broker-peer.js';
import type { SkBrokerHost } from '../contenders/sk-broker.js';
import { hrNow } from '../harness/stats.js';

// Load the baselines' client libraries before anything of socketkit runs in this process: after a socketkit
// server or client has started here, a first import of a pnpm-linked CommonJS package (bullmq) resolved it
// without following the node_modules symlink, and its own dependencies (tslib) were not found. Seen with
// Node 20.20 and socketkit's default logger on; cause not found. Loading them first costs ~0.3 s per process.
await Promise.allSettled([import('amqplib'), import('bullmq'), import('ioredis')]);

/** About 100 bytes of body with the sequence number (the other scenarios' message size). */
const PAD = 'x'.repeat(80);

const peers = new Map<string, BrokerPeer>();
const executed = new Map<string, number>();
const hosts = new Map<string, SkBrokerHost>();

async function connectPeer(ep: BrokerEndpoint): Promise<BrokerPeer> {
  switch (ep.impl) {
    case 'socketkit-broker':
      return (await import('../contenders/sk-broker.js')).SkBrokerPeer.connect(ep.socketDir, ep.name);
    case 'rabbitmq':
      return (await import('../contenders/rabbitmq.js')).RabbitPeer.connect(ep.url, ep.mode, ep.queue);
    case 'bullmq':
      return (await import('../contenders/bullmq.js')).BullPeer.connect(ep.host, ep.port, ep.queue);
  }
}

function peer(key: string): BrokerPeer {
  const p = peers.get(key);
  if (p === undefined) throw new Error(`no peer ${key} in this worker`);
  return p;
}

async function ensurePeer(key: string, ep: BrokerEndpoint): Promise<BrokerPeer> {
  let p = peers.get(key);
  if (p === undefined) {
    p = await connectPeer(ep);
    peers.set(key, p);
  }
  return p;
}

/** Result of a submitter's burst: hrtime of its first submit and of its last outcome. */
export interface SubmitResult {
  t0: number;
  t1: number;
  done: number;
  errors: number;
  firstError: string;
}

/** Submits `count` tasks keeping `window` in flight; resolves when every outcome came back. */
function submitMany(p: BrokerPeer, count: number, window: number): Promise<SubmitResult> {
  const t0 = hrNow();
  let next = 0;
  let inflight = 0;
  let done = 0;
  let errors = 0;
  let firstError = '';
  return new Promise((resolve) => {
    const settle = (): void => {
      inflight--;
      if (done + errors === count) resolve({ t0, t1: hrNow(), done, errors, firstError });
      else launch();
    };
    const launch = (): void => {
      while (inflight < window && next < count) {
        inflight++;
        const body: TaskBody = { n: next++, pad: PAD };
        p.submit(body).then(
          () => {
            done++;
            settle();
          },
          (err: unknown) => {
            errors++;
            firstError ||= err instanceof Error ? err.message : String(err);
            settle();
          },
        );
      }
    };
    if (count === 0) resolve({ t0, t1: t0, done, errors, firstError });
    else launch();
  });
}

/** `count` round trips one at a time after `warmup` untimed ones: task submits, or RPC calls to `rpcName`. */
async function roundTrips(
  p: BrokerPeer,
  count: number,
  warmup: number,
  rpcName: string | undefined,
): Promise<number[]> {
  const call = (n: number): Promise<unknown> =>
    rpcName === undefined ? p.submit({ n, pad: PAD }) : p.rpc(rpcName, { n, pad: PAD });
  for (let i = 0; i < warmup; i++) await call(i);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = hrNow();
    await call(i);
    samples.push((hrNow() - t) / 1000);
  }
  return samples;
}

type Args = Record<string, unknown>;
const str = (a: Args, k: string): string => a[k] as string;
const num = (a: Args, k: string): number => a[k] as number;

const commands: Record<string, (a: Args) => unknown> = {
  ping: () => ({ pid: process.pid }),
  /** User + system CPU time (µs) of this process so far. */
  cpu: () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  },
  /** Starts a socketkit broker in this process. */
  async startSkBroker(a) {
    const { startSkBroker } = await import('../contenders/sk-broker.js');
    const mode = str(a, 'mode') as BrokerMode;
    hosts.set(
      str(a, 'key'),
      await startSkBroker(str(a, 'socketDir'), str(a, 'name'), mode, a.storePath as string | undefined),
    );
    return true;
  },
  async stopSkBroker(a) {
    await hosts.get(str(a, 'key'))?.stop();
    hosts.delete(str(a, 'key'));
  },
  /** Connects `key` to the endpoint and consumes its tasks with `prefetch` in flight. */
  async serveTasks(a) {
    const key = str(a, 'key');
    const p = await ensurePeer(key, a.endpoint as BrokerEndpoint);
    executed.set(key, 0);
    await p.serveTasks(num(a, 'prefetch'), () => executed.set(key, executed.get(key)! + 1));
    return true;
  },
  /** Connects `key` to the endpoint and answers RPC calls to `rpcName`. */
  async serveRpc(a) {
    await (await ensurePeer(str(a, 'key'), a.endpoint as BrokerEndpoint)).serveRpc(str(a, 'rpcName'));
    return true;
  },
  /** Connects `key` to the endpoint as a submitter. */
  async connect(a) {
    await ensurePeer(str(a, 'key'), a.endpoint as BrokerEndpoint);
    return true;
  },
  submitMany: (a) => submitMany(peer(str(a, 'key')), num(a, 'count'), num(a, 'window')),
  roundTrips: (a) =>
    roundTrips(peer(str(a, 'key')), num(a, 'count'), num(a, 'warmup'), a.rpcName as string | undefined),
  /** Tasks executed by `key` since the last call (resets the count). */
  executed(a) {
    const n = executed.get(str(a, 'key')) ?? 0;
    executed.set(str(a, 'key'), 0);
    return n;
  },
  async closePeer(a) {
    await peers.get(str(a, 'key'))?.close();
    peers.delete(str(a, 'key'));
  },
  async exit() {
    await Promise.allSettled([...peers.values()].map((p) => p.close()));
    await Promise.allSettled([...hosts.values()].map((h) => h.stop()));
    setImmediate(() => process.exit(0));
    return true;
  },
};

serveCommands(commands);

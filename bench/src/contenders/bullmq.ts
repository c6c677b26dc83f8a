/**
 * Issue 25's broker bench: the BullMQ baseline. `redis-server` from Debian, started by the bench on a
 * private port and directory, loopback only (memory mode: `--save '' --appendonly no`; durable mode:
 * the append-only file with `appendfsync everysec`, Redis's default and what BullMQ's docs advise);
 * clients through `bullmq` with `ioredis`:
 * - workers: a `Worker` per process with `concurrency` = prefetch;
 * - submitters: `Queue.add` with a job id of their own, and one `QueueEvents` listener per submitter
 *   process that resolves the pending submit on `completed` (what `job.waitUntilFinished()` does,
 *   without a listener per job); jobs are removed on completion (the result travels in the event).
 * BullMQ has no request/reply, so it has no RPC row.
 */
import { mkdir, rm } from 'node:fs/promises';
import type { BrokerMode, BrokerPeer, TaskBody, TaskResult } from './broker-peer.js';
import { findExecutable, freePort, ServerProcess } from './server-process.js';

const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/sbin/redis-server', '/usr/local/bin/redis-server'];

/** A running private redis-server. */
export interface RedisServer {
  host: string;
  port: number;
  /** e.g. `Redis 7.0.15`. */
  version: string;
  /** User + system CPU time (µs) of the server processes so far (NaN without /proc). */
  cpuUs(): number;
  stop(): Promise<void>;
}

/** The queue of one mode. */
export function bullQueue(mode: BrokerMode): string {
  return `skbench-tasks-${mode}`;
}

/**
 * Starts `redis-server` on a free port of 127.0.0.1 with its files under `dir`: no persistence in
 * memory mode, the append-only file (fsync every second) in durable mode.
 * @throws Error saying why (not installed, exited, not up within 30 s).
 */
export async function startRedisServer(dir: string, mode: BrokerMode): Promise<RedisServer> {
  const bin = process.env.BENCH_REDIS_SERVER ?? findExecutable(REDIS_SERVER);
  if (bin === undefined)
    throw new Error('redis-server is not installed (bench/scripts/ensure-broker-baselines.sh installs it)');
  const port = await freePort();
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const persistence =
    mode === 'memory'
      ? ['--save', '', '--appendonly', 'no']
      : ['--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec'];
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--maxmemory-policy',
    'noeviction',
  ];
  const proc = new ServerProcess(bin, [...args, ...persistence, '--loglevel', 'warning'], { cwd: dir });
  const { Redis } = await import('ioredis');
  let version = 'Redis';
  try {
    await proc.waitReady(
      async () => {
        const r = new Redis({
          host: '127.0.0.1',
          port,
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        r.on('error', () => undefined);
        try {
          await r.connect();
          const info = await r.info('server');
          version = `Redis ${/redis_version:([^\r\n]+)/.exec(info)?.[1] ?? '?'}`;
          return true;
        } finally {
          r.disconnect();
        }
      },
      30_000,
      'redis-server',
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    host: '127.0.0.1',
    port,
    version,
    cpuUs: () => proc.cpuUs(),
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface Waiter {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

type Bull = typeof import('bullmq');

/** BullMQ's side of a bench worker process. */
export class BullPeer implements BrokerPeer {
  readonly #bull: Bull;
  readonly #connection: { host: string; port: number; maxRetriesPerRequest: null };
  readonly #queueName: string;
  #worker: import('bullmq').Worker | undefined;
  #queue: import('bullmq').Queue | undefined;
  #events: import('bullmq').QueueEvents | undefined;
  readonly #pending = new Map<string, Waiter>();
  #seq = 0;

  private constructor(bull: Bull, host: string, port: number, queueName: string) {
    this.#bull = bull;
    this.#connection = { host, port, maxRetriesPerRequest: null };
    this.#queueName = queueName;
  }

  /** A peer for the queue `queueName` on redis at `host:port` (connections open on first use). */
  static async connect(host: string, port: number, queueName: string): Promise<BullPeer> {
    return new BullPeer(await import('bullmq'), host, port, queueName);
  }

  async serveTasks(prefetch: number, onTask: () => void): Promise<void> {
    const worker = new this.#bull.Worker<TaskBody, TaskResult>(
      this.#queueName,
      async (job) => {
        onTask();
        return { n: job.data.n, ok: true };
      },
      { connection: this.#connection, concurrency: prefetch, autorun: true },
    );
    worker.on('error', () => undefined);
    await worker.waitUntilReady();
    this.#worker = worker;
  }

  #submitter: Promise<import('bullmq').Queue> | undefined;

  /** The Queue and its QueueEvents listener, opened once (the first submits share the promise). */
  #ensureSubmitter(): Promise<import('bullmq').Queue> {
    this.#submitter ??= this.#openSubmitter();
    return this.#submitter;
  }

  async #openSubmitter(): Promise<import('bullmq').Queue> {
    const events = new this.#bull.QueueEvents(this.#queueName, { connection: this.#connection });
    this.#events = events;
    events.on('error', () => undefined);
    events.on('completed', ({ jobId, returnvalue }) => {
      const w = this.#pending.get(jobId);
      if (w === undefined) return;
      this.#pending.delete(jobId);
      w.resolve(returnvalue);
    });
    events.on('failed', ({ jobId, failedReason }) => {
      const w = this.#pending.get(jobId);
      if (w === undefined) return;
      this.#pending.delete(jobId);
      w.reject(new Error(`job ${jobId} failed: ${failedReason}`));
    });
    await events.waitUntilReady();
    const queue = new this.#bull.Queue(this.#queueName, { connection: this.#connection });
    this.#queue = queue;
    queue.on('error', () => undefined);
    await queue.waitUntilReady();
    return queue;
  }

  async submit(body: TaskBody): Promise<unknown> {
    const queue = await this.#ensureSubmitter();
    const jobId = `${process.pid}-${++this.#seq}`;
    const outcome = new Promise<unknown>((resolve, reject) => this.#pending.set(jobId, { resolve, reject }));
    await queue.add('task', body, { jobId, removeOnComplete: true, removeOnFail: true });
    return outcome;
  }

  serveRpc(): Promise<void> {
    return Promise.reject(new Error('BullMQ has no request/reply'));
  }

  rpc(): Promise<unknown> {
    return Promise.reject(new Error('BullMQ has no request/reply'));
  }

  async close(): Promise<void> {
    for (const w of this.#pending.values()) w.reject(new Error('connection closed'));
    this.#pending.clear();
    await Promise.allSettled([this.#worker?.close(), this.#queue?.close(), this.#events?.close()]);
  }
}

/**
 * Issue 25's broker bench: the RabbitMQ baseline. `rabbitmq-server` from Debian, started by the bench
 * on a private node name, ports and directories, loopback only; clients through `amqplib`:
 * - tasks: a work queue, manual acks, `prefetch` per worker channel; the submitter publishes with
 *   `replyTo` (its exclusive reply queue) and a `correlationId`, the worker publishes the result there,
 *   then acks: a round trip comparable with socketkit's `taskSend` → outcome (and kiwipy's RabbitMQ
 *   communicator, which works the same way);
 * - memory mode: a non-durable queue and transient messages; durable mode: a durable queue, persistent
 *   messages and publisher confirms (a task counts as submitted once RabbitMQ confirmed it);
 * - RPC: a queue per RPC name, replies through direct reply-to (`amq.rabbitmq.reply-to`).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { pack, unpack } from 'msgpackr';
import type { BrokerMode, BrokerPeer, TaskBody, TaskResult } from './broker-peer.js';
import { findExecutable, freePort, ServerProcess } from './server-process.js';

type Amqp = typeof import('amqplib');
type ChannelModel = import('amqplib').ChannelModel;
type Channel = import('amqplib').Channel;
type ConfirmChannel = import('amqplib').ConfirmChannel;

const RABBITMQ_SERVER = ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/sbin/rabbitmq-server'];
const EPMD = ['/usr/bin/epmd', '/usr/lib/erlang/bin/epmd'];

/** A running private RabbitMQ node. */
export interface RabbitServer {
  /** `amqp://guest:guest@127.0.0.1:<port>`. */
  url: string;
  /** e.g. `RabbitMQ 3.10.8 (Erlang 25.2.3)`. */
  version: string;
  /** User + system CPU time (µs) of the server processes so far (NaN without /proc). */
  cpuUs(): number;
  stop(): Promise<void>;
}

/** The work queue of one mode. */
export function rabbitQueue(mode: BrokerMode): string {
  return `skbench.tasks.${mode}`;
}

/**
 * Starts `rabbitmq-server` under `dir` (mnesia, logs, config, Erlang cookie) with a private node name,
 * AMQP port, distribution port and epmd port, all on 127.0.0.1, and no plugins.
 * @throws Error saying why (not installed, exited, not up within 90 s).
 */
export async function startRabbitServer(dir: string): Promise<RabbitServer> {
  const bin = process.env.BENCH_RABBITMQ_SERVER ?? findExecutable(RABBITMQ_SERVER);
  if (bin === undefined)
    throw new Error('rabbitmq-server is not installed (bench/scripts/ensure-broker-baselines.sh installs it)');
  const epmd = findExecutable(EPMD);
  const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'mnesia'), { recursive: true });
  await mkdir(join(dir, 'log'), { recursive: true });
  await writeFile(join(dir, 'enabled_plugins'), '[].\n');
  await writeFile(
    join(dir, 'rabbitmq.conf'),
    [
      `listeners.tcp.default = 127.0.0.1:${port}`,
      'disk_free_limit.absolute = 50MB',
      'log.console = true',
      'log.file = false',
      '',
    ].join('\n'),
  );
  const erlEnv = { ERL_EPMD_ADDRESS: '127.0.0.1', ERL_EPMD_PORT: String(epmdPort) };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...erlEnv,
    HOME: dir,
    RABBITMQ_CONF_ENV_FILE: '/dev/null',
    RABBITMQ_NODENAME: `skbench${process.pid}@localhost`,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
  };
  const proc = new ServerProcess(bin, [], { env, cwd: dir });
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const amqp = await import('amqplib');
  let version = 'RabbitMQ';
  const killEpmd = async (): Promise<void> => {
    // The epmd daemon the node started on its private port (it outlives the node otherwise).
    if (epmd !== undefined)
      await promisify(execFile)(epmd, ['-kill'], { env: { ...process.env, ...erlEnv } }).catch(() => undefined);
  };
  try {
    await proc.waitReady(
      async () => {
        const c = await amqp.connect(url);
        const props = c.connection.serverProperties;
        version = `RabbitMQ ${props.version ?? '?'}`;
        await c.close();
        return true;
      },
      90_000,
      'rabbitmq-server',
    );
  } catch (err) {
    await proc.stop();
    await killEpmd();
    throw err;
  }
  return {
    url,
    version,
    cpuUs: () => proc.cpuUs(),
    async stop() {
      await proc.stop();
      await killEpmd();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

interface Waiter {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** amqplib's side of a bench worker process (one AMQP connection). */
export class RabbitPeer implements BrokerPeer {
  readonly #conn: ChannelModel;
  readonly #mode: BrokerMode;
  readonly #queue: string;
  #replyQueue = '';
  #rpcCh: Promise<Channel> | undefined;
  readonly #pending = new Map<string, Waiter>();
  #seq = 0;

  private constructor(conn: ChannelModel, mode: BrokerMode, queue: string) {
    this.#conn = conn;
    this.#mode = mode;
    this.#queue = queue;
    conn.on('error', () => undefined);
  }

  /** Connects to `url`; the work queue is `queue` (non-durable in memory mode, durable otherwise). */
  static async connect(url: string, mode: BrokerMode, queue: string): Promise<RabbitPeer> {
    const amqp: Amqp = await import('amqplib');
    // TCP_NODELAY, as every other client in the bench (amqplib leaves Nagle on by default, which with
    // delayed ACKs stalls pipelined publishes and acks for 40 ms at a time).
    return new RabbitPeer(await amqp.connect(url, { noDelay: true }), mode, queue);
  }

  async serveTasks(prefetch: number, onTask: () => void): Promise<void> {
    const ch = await this.#conn.createChannel();
    await ch.assertQueue(this.#queue, { durable: this.#mode === 'durable' });
    await ch.prefetch(prefetch);
    await ch.consume(
      this.#queue,
      (msg) => {
        if (msg === null) return;
        const body = unpack(msg.content) as TaskBody;
        onTask();
        const result: TaskResult = { n: body.n, ok: true };
        ch.sendToQueue(msg.properties.replyTo as string, pack(result), {
          correlationId: msg.properties.correlationId as string,
        });
        ch.ack(msg);
      },
      { noAck: false },
    );
  }

  #submitter: Promise<Channel | ConfirmChannel> | undefined;

  /** The submit channel and its reply queue, opened once (the first submits share the promise). */
  #submitChannel(): Promise<Channel | ConfirmChannel> {
    this.#submitter ??= this.#openSubmitChannel();
    return this.#submitter;
  }

  async #openSubmitChannel(): Promise<Channel | ConfirmChannel> {
    const ch = this.#mode === 'durable' ? await this.#conn.createConfirmChannel() : await this.#conn.createChannel();
    await ch.assertQueue(this.#queue, { durable: this.#mode === 'durable' });
    const reply = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    this.#replyQueue = reply.queue;
    await ch.consume(
      reply.queue,
      (msg) => {
        if (msg === null) return;
        const id = msg.properties.correlationId as string;
        const w = this.#pending.get(id);
        if (w === undefined) return;
        this.#pending.delete(id);
        w.resolve(unpack(msg.content));
      },
      { noAck: true },
    );
    return ch;
  }

  async submit(body: TaskBody): Promise<unknown> {
    const ch = await this.#submitChannel();
    const correlationId = `${process.pid}.${++this.#seq}`;
    const outcome = new Promise<unknown>((resolve, reject) => this.#pending.set(correlationId, { resolve, reject }));
    const options = { persistent: this.#mode === 'durable', replyTo: this.#replyQueue, correlationId };
    let ok = true;
    let confirmed: Promise<unknown> | undefined;
    if (this.#mode === 'durable') {
      confirmed = new Promise((resolve, reject) => {
        ok = (ch as ConfirmChannel).sendToQueue(this.#queue, pack(body), options, (err) =>
          err ? reject(new Error(`RabbitMQ nacked task ${correlationId}`)) : resolve(undefined),
        );
      });
    } else {
      ok = ch.sendToQueue(this.#queue, pack(body), options);
    }
    // amqplib's write buffer is full: wait for it to drain, as its docs ask.
    if (!ok) await new Promise((resolve) => ch.once('drain', resolve));
    if (confirmed !== undefined) await confirmed;
    return outcome;
  }

  async serveRpc(name: string): Promise<void> {
    const ch = await this.#conn.createChannel();
    const q = `skbench.rpc.${name}`;
    await ch.assertQueue(q, { durable: false, autoDelete: true });
    await ch.consume(
      q,
      (msg) => {
        if (msg === null) return;
        ch.sendToQueue(msg.properties.replyTo as string, msg.content, {
          correlationId: msg.properties.correlationId as string,
        });
      },
      { noAck: true },
    );
  }

  /** The RPC channel, consuming direct reply-to, opened once. */
  #openRpcChannel(): Promise<Channel> {
    this.#rpcCh ??= (async () => {
      const ch = await this.#conn.createChannel();
      await ch.consume(
        'amq.rabbitmq.reply-to',
        (msg) => {
          if (msg === null) return;
          const w = this.#pending.get(msg.properties.correlationId as string);
          if (w === undefined) return;
          this.#pending.delete(msg.properties.correlationId as string);
          w.resolve(unpack(msg.content));
        },
        { noAck: true },
      );
      return ch;
    })();
    return this.#rpcCh;
  }

  async rpc(name: string, body: TaskBody): Promise<unknown> {
    const ch = await this.#openRpcChannel();
    const correlationId = `rpc.${process.pid}.${++this.#seq}`;
    const reply = new Promise<unknown>((resolve, reject) => this.#pending.set(correlationId, { resolve, reject }));
    ch.sendToQueue(`skbench.rpc.${name}`, pack(body), { replyTo: 'amq.rabbitmq.reply-to', correlationId });
    return reply;
  }

  async close(): Promise<void> {
    for (const w of this.#pending.values()) w.reject(new Error('connection closed'));
    this.#pending.clear();
    await this.#conn.close().catch(() => undefined);
  }
}

/**
 * `connect()`: a {@link Communicator} over one socketkit client. It
 * reconnects by itself (socketkit's backoff), registers its subscribers
 * again and re-attaches to the outcomes of its pending tasks.
 */
import { type AnyClient, createClient, DEFAULT_CONFIG, type SocketType } from 'socketkit';
import { DEFAULT_BROKER_EVENT } from './broker.js';
import { Communicator } from './communicator.js';
import { BrokerUnavailable } from './errors.js';
import type { JetStreamCommunicator, JetStreamConnectOptions } from './jetstream/connect.js';

/**
 * Options of {@link connect}; keys it does not know go to the transport's client (`socketDir`, `port`, `host`, `token`,
 * `tls`, `servers`, ...).
 */
export interface ConnectOptions {
  /** `unix` (default), `tcp` or `nats`. */
  transport?: SocketType;
  /** The broker's event name (default `broker`). */
  eventName?: string;
  /** Heartbeat ping interval in ms (default 1000). */
  heartbeatIntervalMs?: number;
  /** Silence after which the broker is considered gone and the client reconnects (default 3 × interval). */
  heartbeatTimeoutMs?: number;
  /**
   * Keep dialling while the broker is not there yet: true (up to the connect timeout) or a number of ms (default
   * false).
   */
  waitForServer?: boolean | number;
  /**
   * Reconnect backoff (socketkit's; default 100 ms ×2 up to 5 s, 30 attempts). When it gives up, everything pending
   * rejects with `BrokerUnavailable`.
   */
  reconnect?: { initialDelay?: number; maxDelay?: number; maxRetries?: number; multiplier?: number; jitter?: number };
  /** Largest message in bytes (default 1 MiB). */
  maxMessageSize?: number;
  /** Level of the transport's default logger (default: the configuration's, `info`; `SOCKET_LOG_LEVEL` sets it too). */
  logLevel?: string;
  [transportOption: string]: unknown;
}

const OWN = new Set(['transport', 'eventName', 'heartbeatIntervalMs', 'heartbeatTimeoutMs', 'waitForServer']);

/** A {@link Communicator} connected to a broker through socketkit. */
export class SocketCommunicator extends Communicator {
  /** The socketkit client under it. */
  readonly client: AnyClient;

  /** @internal Use {@link connect}. */
  constructor(client: AnyClient, maxMessageSize: number = DEFAULT_CONFIG.maxMessageSize) {
    super();
    this.client = client;
    let lastError: Error | undefined;
    let closing = false;
    const events = this.attach({
      // A rejection is sorted by the communicator: a message error fails its call, a connection error waits for the
      // replay.
      send: (m) => client.send(m),
      resultsWithoutRef: true,
      batches: { maxMessageSize },
      close: async () => {
        closing = true;
        await client.disconnect();
      },
    });
    client.on('welcome', () => events.up());
    client.on('disconnected', (reason) => events.down(reason));
    client.on('message', (m) => events.message(m.data));
    client.on('error', (e) => {
      lastError = e;
    });
    client.on('close', () => {
      if (!closing) events.failed(lastError ?? new BrokerUnavailable('the connection to the broker closed'));
    });
  }
}

/**
 * Connects to NATS JetStream: the same `Communicator` with no socketkit
 * broker process (tasks on a replicated work-queue stream, RPC over NATS
 * request/reply, broadcasts on NATS subjects). See docs/broker.md.
 *
 * @example
 * const comm = await connect({ transport: 'jetstream', servers: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222'] });
 */
export async function connect(options: JetStreamConnectOptions): Promise<JetStreamCommunicator>;
/**
 * Connects to a broker.
 *
 * @example
 * const comm = await connect({ socketDir: '/run/myapp' });
 * await comm.addTaskSubscriber(async (body) => work(body), { prefetch: 4 });
 * const result = await comm.taskSend({ n: 1 });
 *
 * @throws BrokerUnavailable when the broker cannot be reached (the cause is socketkit's error).
 */
export async function connect(options?: ConnectOptions): Promise<SocketCommunicator>;
export async function connect(
  options: ConnectOptions | JetStreamConnectOptions = {},
): Promise<SocketCommunicator | JetStreamCommunicator> {
  if (options.transport === 'jetstream') {
    const { connectJetStream } = await import('./jetstream/connect.js');
    return connectJetStream(options as JetStreamConnectOptions);
  }
  const transport = options.transport ?? 'unix';
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (v !== undefined && !OWN.has(k)) rest[k] = v;
  const interval = options.heartbeatIntervalMs ?? 1000;
  const client = (await createClient(transport, options.eventName ?? DEFAULT_BROKER_EVENT, {
    ...rest,
    heartbeatInterval: interval,
    heartbeatTimeout: options.heartbeatTimeoutMs ?? 3 * interval,
    bufferMessages: false,
    offlineSend: 'reject',
  } as never)) as AnyClient;
  const comm = new SocketCommunicator(
    client,
    typeof options.maxMessageSize === 'number' ? options.maxMessageSize : DEFAULT_CONFIG.maxMessageSize,
  );
  try {
    await client.connect(options.waitForServer === undefined ? {} : { waitForServer: options.waitForServer });
  } catch (e) {
    await comm.close();
    throw new BrokerUnavailable(`cannot reach the broker: ${(e as Error).message}`, { cause: e });
  }
  return comm;
}

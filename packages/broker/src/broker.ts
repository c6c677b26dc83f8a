/**
 * `startBroker()`: a socketkit server (unix by default; tcp with a token or
 * TLS; nats through the nats transport) driving a {@link BrokerCore}.
 */
import { createServer, type AnyServer, type ServerStats, type SocketType } from 'socketkit';
import { BrokerCore, type BrokerLimits, type BrokerStats, type TaskInfo } from './core.js';
import { BATCH_MAX, type BrokerMessage, Kind } from './wire.js';
import { LmdbStore, MemoryStore, type StoreOptions, type TaskStore } from './store.js';
import type { TaskState } from './store.js';

/** The event name brokers serve unless told otherwise. */
export const DEFAULT_BROKER_EVENT = 'broker';

/**
 * Options of {@link startBroker}; keys it does not know go to the transport's server (`socketDir`, `port`, `host`,
 * `token`, `tls`, `servers`, ...).
 */
export interface BrokerOptions extends BrokerLimits {
  /** `unix` (default), `tcp` or `nats`; its package (`@socketkit/unix`, ...) must be installed. */
  transport?: SocketType;
  /** Event name (default `broker`): the socket name on unix, the subject on NATS. */
  eventName?: string;
  /**
   * Durable mode: tasks are kept in LMDB at `store.path` and accepted only
   * once committed; a restart on the same path finds every pending, in-flight
   * (returned to pending), dead and finished (within `resultTtlMs`) task.
   * Without it (memory mode) a restart loses every task and every kept result.
   */
  store?: StoreOptions;
  /** Heartbeat ping interval in ms (default 1000); a worker silent for `heartbeatTimeoutMs` loses its leases. */
  heartbeatIntervalMs?: number;
  /** Silence after which a connection is dropped and its leases end (default 3 × interval). */
  heartbeatTimeoutMs?: number;
  /** Most connections (default 1024). */
  maxConnections?: number;
  /**
   * Largest message in bytes, both directions (default: the transport's, 1 MiB; on NATS at most the server's
   * max_payload).
   */
  maxMessageSize?: number;
  /** Level of the transport's default logger (default: the configuration's, `info`; `SOCKET_LOG_LEVEL` sets it too). */
  logLevel?: string;
  /**
   * Answer `admin` messages (stats, task list, requeue, purge: `socketkit broker tasks|requeue|purge`, the
   * Communicator's `brokerStats`/`listTasks`/`requeueTask`/`purgeDead`). Default: only when whoever can connect is
   * the operator: a unix socket only its owner can open (no group/other permission bits), or a broker with a
   * `token` (tcp, nats); refused `ADMIN_DISABLED` otherwise (a tcp broker without a token: any local user can
   * connect). `true` answers whoever can connect; `false` never.
   */
  adminOps?: boolean;
  [transportOption: string]: unknown;
}

/** A running broker. */
export interface Broker {
  /** The socketkit server. */
  readonly server: AnyServer;
  /** The transport. */
  readonly transport: SocketType;
  /** The event name. */
  readonly eventName: string;
  /** Where clients connect: the socket path (unix), `host:port` (tcp) or the subject (nats). */
  readonly address: string;
  /** The TCP port (tcp only). */
  readonly port: number | undefined;
  /** The state machine (for tests and tools). */
  readonly core: BrokerCore;
  /** Whether it answers `admin` messages (`adminOps`: given, or the default of {@link BrokerOptions}). */
  readonly adminOps: boolean;
  /** Pending, in flight, dead, per-subscriber load, tasks/s. */
  stats(): BrokerStats;
  /** Tasks in a state (pending, inflight, done, dead). */
  listTasks(options?: { state?: TaskState; limit?: number }): TaskInfo[];
  /** Puts a dead or in-flight task back in the queue. */
  requeue(taskId: string): boolean;
  /** Empties the dead-letter list. */
  purgeDead(): number;
  /** Stops the server and closes the store. */
  stop(): Promise<void>;
}

/** The broker's own limits (the rest of {@link BrokerOptions} goes to the socketkit server). */
const LIMIT_KEYS = [
  'maxDeliveries',
  'maxPendingTasks',
  'maxPendingBytes',
  'resultTtlMs',
  'maxKeptResults',
  'maxDeadLetters',
  'maxSubscribersPerConnection',
  'maxPrefetch',
  'maxPendingCalls',
  'ackTimeoutMs',
  'rejectBackoffMs',
  'rejectBackoffMaxMs',
  'adminOps',
] as const;

const OWN_KEYS = new Set<string>([
  'transport',
  'eventName',
  'store',
  'heartbeatIntervalMs',
  'heartbeatTimeoutMs',
  'maxConnections',
  'maxMessageSize',
  ...LIMIT_KEYS,
]);

/**
 * Starts a broker.
 *
 * @example
 * const broker = await startBroker({ socketDir: '/run/myapp', store: { path: '/var/lib/myapp/broker' } });
 * // ... later
 * await broker.stop();
 *
 * @throws the transport's errors (`ADDRESS_IN_USE`, `INVALID_CONFIG` for a transport that is not installed, ...).
 */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const transport = options.transport ?? 'unix';
  const eventName = options.eventName ?? DEFAULT_BROKER_EVENT;
  const limits: BrokerLimits = {};
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) continue;
    if (OWN_KEYS.has(k)) (limits as Record<string, unknown>)[k] = v;
    else rest[k] = v;
  }
  const interval = options.heartbeatIntervalMs ?? 1000;
  const serverOptions: Record<string, unknown> = {
    ...rest,
    maxConnections: options.maxConnections ?? 1024,
    heartbeatInterval: interval,
    heartbeatTimeout: options.heartbeatTimeoutMs ?? 3 * interval,
    ...(options.maxMessageSize === undefined ? {} : { maxMessageSize: options.maxMessageSize }),
    messageQueueSize: 1,
  };
  const store: TaskStore = options.store === undefined ? new MemoryStore() : await LmdbStore.open(options.store);
  let server: AnyServer;
  try {
    server = (await createServer(transport, eventName, serverOptions as never)) as AnyServer;
  } catch (e) {
    await store.close();
    throw e;
  }
  const adminOps = options.adminOps ?? adminByDefault(transport, server, options);
  // What the core sends in one turn of the event loop goes out together, once the loop has read every socket that
  // was ready: one write per connection for the messages of all the frames read in that turn (socketkit batches the
  // writes of one tick, and a tick ends after each socket's read callback). A client that asked for it (`features`)
  // gets them in `batch` frames: one envelope for up to BATCH_MAX messages.
  let outbox = new Map<string, BrokerMessage[]>();
  let flushing: NodeJS.Immediate | undefined;
  const sendOne = (message: BrokerMessage, connId: string): void => {
    try {
      server.send(message, connId);
    } catch {
      // the connection went away (its clientDisconnected follows), or the server stopped; or this one message
      // cannot be sent (larger than maxMessageSize): dropped, as the socketkit server would drop it
    }
  };
  const flush = (): void => {
    flushing = undefined;
    const pending = outbox;
    outbox = new Map();
    for (const [connId, messages] of pending) {
      if (messages.length === 1 || !core.acceptsBatches(connId)) {
        for (const message of messages) sendOne(message, connId);
        continue;
      }
      for (let i = 0; i < messages.length; i += BATCH_MAX) {
        const part = messages.length <= BATCH_MAX ? messages : messages.slice(i, i + BATCH_MAX);
        if (part.length === 1) {
          sendOne(part[0] as BrokerMessage, connId);
          continue;
        }
        try {
          server.send({ kind: Kind.BATCH, messages: part }, connId);
        } catch {
          // Too large together (or gone): one message per frame, as without batches.
          for (const message of part) sendOne(message, connId);
        }
      }
    }
  };
  const core = new BrokerCore(
    {
      batchLimit: () => server.settings.maxMessageSize,
      send: (connId, message) => {
        const queued = outbox.get(connId);
        if (queued === undefined) outbox.set(connId, [message]);
        else queued.push(message);
        flushing ??= setImmediate(flush);
      },
    },
    store,
    { ...pickLimits(options), adminOps },
  );
  // A monitor's stats (`socketkit stats`/`top`) carry the broker's figures as `broker`.
  const serverStats = server.stats.bind(server);
  Object.defineProperty(server, 'stats', {
    configurable: true,
    value: (): ServerStats & { broker: BrokerStats } => ({ ...serverStats(), broker: core.stats() }),
  });
  server.on('clientConnected', (id) => core.connected(id));
  server.on('clientDisconnected', (id) => core.disconnected(id));
  server.on('message', (m, id) => {
    if (m.id === undefined) core.handle(id, m.data);
  });
  server.on('error', () => undefined); // reported by the server's logger; a bad peer must not crash the broker
  try {
    await server.start();
  } catch (e) {
    core.close();
    await store.close();
    throw e;
  }
  let stopped = false;
  return {
    server,
    transport,
    eventName,
    address: server.address,
    port: 'port' in server ? (server.port as number) : undefined,
    core,
    adminOps,
    stats: () => core.stats(),
    listTasks: (o) => core.listTasks(o),
    requeue: (id) => core.requeue(id),
    purgeDead: () => core.purgeDead(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      core.close();
      if (flushing !== undefined) flush();
      await server.stop();
      await store.close();
    },
  };
}

/**
 * `adminOps` of `startBroker` when not given: only the operator can connect, i.e. a unix socket only its owner can
 * open (the server exposes stats to monitors: its mode has no group or other bits) or a broker with a token.
 */
function adminByDefault(transport: SocketType, server: AnyServer, options: BrokerOptions): boolean {
  if (typeof options.token === 'string' && options.token !== '') return true;
  return transport === 'unix' && server.settings.exposeStats;
}

function pickLimits(o: BrokerOptions): BrokerLimits {
  const out: Record<string, unknown> = {};
  for (const k of LIMIT_KEYS) {
    if (o[k] !== undefined) out[k] = o[k];
  }
  return out as BrokerLimits;
}

/**
 * The socketkit side of every scenario, through the public API of
 * `@socketkit/unix`, `@socketkit/tcp` and `@socketkit/nats` only.
 */
import { NatsSocketClient, NatsSocketServer } from '@socketkit/nats';
import { TcpSocketClient, TcpSocketServer } from '@socketkit/tcp';
import { UnixSocketClient, UnixSocketServer } from '@socketkit/unix';
import { encodeFrame } from '@socketkit/codec';
import { createMessage } from '@socketkit/protocol';
import { ArrivalCounter } from '../harness/counter.js';
import { hrNow } from '../harness/stats.js';
import { timeRoundTrips } from '../harness/latency.js';
import type {
  Address,
  BroadcastResult,
  CountResult,
  SlowBroadcastOptions,
  SlowBroadcastResult,
  TransportKind,
  WriteResult,
} from '../harness/types.js';
import { makeData } from '../harness/payload.js';

/**
 * socketkit over NATS runs with a token, so every NATS message it publishes
 * is authenticated (issue 22: a GMAC tag per batch) and the target holds with that
 * cost; `BENCH_NATS_TOKEN=0` runs it without one.
 */
export const NATS_BENCH_TOKEN = 'socketkit-bench-nats-token-0123456789abcdef';

function natsToken(): { token?: string } {
  return process.env.BENCH_NATS_TOKEN === '0' ? {} : { token: NATS_BENCH_TOKEN };
}

type Server = UnixSocketServer | TcpSocketServer | NatsSocketServer;
type Client = UnixSocketClient | TcpSocketClient | NatsSocketClient;

function frameSize(eventName: string, data: Record<string, unknown>): number {
  return encodeFrame(createMessage(eventName, 'data', data)).length;
}

/** Collects the server's warnings (silent otherwise) to report what the slow-consumer policy did. */
class CapturingLogger {
  warnings: string[] = [];
  debug(): void {}
  info(): void {}
  error(): void {}
  warn(...args: unknown[]): void {
    this.warnings.push(args.map(String).join(' '));
  }
}

/** A socketkit server in a worker process. */
export class SkServer {
  readonly server: Server;
  readonly eventName: string;
  readonly #log = new CapturingLogger();
  readonly #ingress = new ArrivalCounter();
  readonly #closed = new Map<string, { reason: string; t: number }>();
  readonly #natsUrl: string | undefined;

  /**
   * @param drainTimeout Server `drainTimeout` (ms); the library default when undefined.
   * @param natsUrl The nats-server to use when `transport` is `nats`.
   * @param maxConnections Server `maxConnections` (16 unless given: the scaling curve raises it).
   * @param serverOptions More server options, as they are (issue 28's idle clients: backlog, heartbeat, bounds).
   */
  constructor(
    transport: TransportKind,
    eventName: string,
    socketDir: string,
    drainTimeout?: number,
    natsUrl?: string,
    maxConnections = 16,
    serverOptions: Record<string, unknown> = {},
  ) {
    this.eventName = eventName;
    this.#natsUrl = natsUrl;
    const common = {
      eventName,
      logger: this.#log,
      envFile: false as const,
      maxConnections,
      handler: (): Record<string, unknown> => ({ ok: true }),
      ...(drainTimeout === undefined ? {} : { drainTimeout }),
      ...serverOptions,
    };
    if (transport === 'nats') {
      if (natsUrl === undefined) throw new Error('transport nats needs the nats-server URL');
      this.server = new NatsSocketServer({ ...common, servers: natsUrl, ...natsToken() });
    } else {
      this.server =
        transport === 'unix'
          ? new UnixSocketServer({ ...common, socketDir })
          : new TcpSocketServer({ ...common, host: '127.0.0.1', port: 0 });
    }
    this.server.on('message', () => {
      this.#ingress.hit();
    });
    this.server.on('clientDisconnected', (id, reason) => this.#closed.set(id, { reason, t: hrNow() }));
  }

  /** Starts the server and returns its address. */
  async start(transport: TransportKind, socketDir: string): Promise<Address> {
    await this.server.start();
    if (transport === 'nats') return { transport, servers: this.#natsUrl!, eventName: this.eventName };
    if (transport === 'unix')
      return { transport, path: (this.server as UnixSocketServer).socketPath, socketDir, eventName: this.eventName };
    return {
      transport,
      host: '127.0.0.1',
      port: (this.server as TcpSocketServer).port as number,
      eventName: this.eventName,
    };
  }

  /** Connected clients. */
  clientCount(): number {
    return this.server.getConnectedClients().length;
  }

  /** [issue 28: idle clients] Why clients left, counted by reason (a point that stalls says so). */
  disconnects(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { reason } of this.#closed.values()) out[reason] = (out[reason] ?? 0) + 1;
    return out;
  }

  /** See {@link RawServer.armIngress}. */
  armIngress(total: number): void {
    this.#ingress.arm(total);
  }

  /** See {@link RawServer.waitIngress}. */
  waitIngress(): Promise<CountResult> {
    return this.#ingress.wait();
  }

  /**
   * `server.send(data)` × count, `await server.drain()` every `drainEveryBytes`; with `tickEvery` (issue 28's idle
   * clients), also a turn of the event loop (`setImmediate`) every `tickEvery` messages, so each client gets its
   * messages in writes of `tickEvery` frames whatever the number of clients.
   */
  async broadcast(
    count: number,
    data: Record<string, unknown>,
    drainEveryBytes: number,
    tickEvery = 0,
  ): Promise<BroadcastResult> {
    const server = this.server;
    const frameBytes = frameSize(this.eventName, data);
    let since = 0;
    const t0 = hrNow();
    for (let i = 0; i < count; i++) {
      server.send(data);
      if (tickEvery > 0 && (i + 1) % tickEvery === 0) await new Promise<void>((r) => setImmediate(r));
      since += frameBytes;
      if (since >= drainEveryBytes) {
        since = 0;
        await server.drain();
      }
    }
    return { t0, t1: hrNow(), frameBytes };
  }

  /**
   * The slow-consumer producer: `server.send(data)` in a loop, `await
   * server.drain()` every `drainEveryBytes`, sampling the server's RSS.
   * Reports when and why the slow-consumer policy dropped a client.
   */
  async slowBroadcast(o: SlowBroadcastOptions): Promise<SlowBroadcastResult> {
    const server = this.server;
    const data = makeData(o.payloadBytes);
    const frameBytes = frameSize(this.eventName, data);
    const startIds = new Set(server.getConnectedClients().map((c) => c.id));
    const clientsAtStart = startIds.size;
    const pendingMax = new Map<string, number>();
    this.#log.warnings.length = 0;
    globalThis.gc?.();
    globalThis.gc?.();
    const rssBase = process.memoryUsage.rss();
    let rssPeak = rssBase;
    const sample = (): void => {
      const r = process.memoryUsage.rss();
      if (r > rssPeak) rssPeak = r;
    };
    const sampler = setInterval(sample, 5);
    let since = 0;
    let offered = 0;
    let slowDroppedAtBytes = -1;
    let drainWaitNs = 0;
    let drainMaxNs = 0;
    const t0 = hrNow();
    for (let i = 0; i < o.count; i++) {
      const n = server.send(data);
      offered += frameBytes;
      if (n < clientsAtStart && slowDroppedAtBytes < 0) slowDroppedAtBytes = offered;
      since += frameBytes;
      if (since >= o.drainEveryBytes) {
        since = 0;
        sample();
        for (const c of server.getConnectedClients())
          if (c.pendingBytes > (pendingMax.get(c.id) ?? 0)) pendingMax.set(c.id, c.pendingBytes);
        const d0 = hrNow();
        await server.drain();
        const waited = hrNow() - d0;
        drainWaitNs += waited;
        if (waited > drainMaxNs) drainMaxNs = waited;
      }
    }
    const t1 = hrNow();
    sample();
    // The dropped client's connection is closed gracefully: it gets closeTimeout (2 s) to take its backlog.
    const gone = (): string | undefined => [...startIds].find((id) => this.#closed.has(id));
    const deadline = Date.now() + 4000;
    while (slowDroppedAtBytes >= 0 && gone() === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    sample();
    clearInterval(sampler);
    const goneId = gone();
    const closed = goneId === undefined ? undefined : this.#closed.get(goneId);
    const warning = this.#log.warnings.find((w) => w.includes('SLOW_CONSUMER')) ?? '';
    const why = /not keeping up \((.*)\): disconnecting/.exec(warning)?.[1] ?? /\(([^)]*)\)/.exec(warning)?.[1] ?? '';
    return {
      t0,
      t1,
      frameBytes,
      clientsAtStart,
      rssBase,
      rssPeak,
      slowDroppedAtBytes,
      slowPendingBytes: goneId === undefined ? -1 : (pendingMax.get(goneId) ?? -1),
      slowCode: warning.includes('SLOW_CONSUMER') ? 'SLOW_CONSUMER' : '',
      slowWhy: why,
      slowReason: closed?.reason ?? '',
      slowClosedAfterMs: closed === undefined ? -1 : (closed.t - t0) / 1e6,
      drainMaxMs: drainMaxNs / 1e6,
      drainWaitMs: drainWaitNs / 1e6,
    };
  }

  /** Stops the server. */
  stop(): Promise<void> {
    return this.server.stop();
  }
}

/** A socketkit client in a worker process. */
export class SkClient {
  readonly client: Client;
  readonly #arrivals = new ArrivalCounter();

  /**
   * @param slow A client that stops reading: no listener, receive buffer of
   *   one message, so it pauses the socket after the first message.
   */
  constructor(address: Address, slow: boolean) {
    const common = {
      eventName: address.eventName,
      logLevel: 'silent' as const,
      envFile: false as const,
      autoReconnect: false,
      ...(slow ? { bufferSize: 1 } : {}),
    };
    this.client =
      address.transport === 'nats'
        ? new NatsSocketClient({ ...common, servers: address.servers, ...natsToken() })
        : address.transport === 'unix'
          ? new UnixSocketClient({ ...common, socketDir: address.socketDir })
          : new TcpSocketClient({ ...common, host: address.host, port: address.port });
    this.client.on('error', () => undefined);
    if (!slow) {
      this.client.on('message', () => {
        this.#arrivals.hit();
      });
    }
  }

  /** Connects and waits for the server's welcome. */
  connect(): Promise<void> {
    return this.client.connect({ waitForWelcome: true });
  }

  /** See {@link RawClient.arm}. */
  arm(count: number): void {
    this.#arrivals.arm(count);
  }

  /** See {@link RawClient.waitCount}. */
  waitCount(): Promise<CountResult> {
    return this.#arrivals.wait();
  }

  /** `await client.request(data)` in sequence; the measured round trips in µs. */
  requests(count: number, warmup: number, data: Record<string, unknown>): Promise<number[]> {
    const client = this.client;
    return timeRoundTrips(() => client.request(data, { timeout: 10_000 }), count, warmup);
  }

  /** `await client.send(data)` × count, yielding to the event loop every `batchBytes`. */
  async write(count: number, data: Record<string, unknown>, batchBytes: number): Promise<WriteResult> {
    const client = this.client;
    const frameBytes = frameSize(client.eventName, data);
    let since = 0;
    const tStart = hrNow();
    for (let i = 0; i < count; i++) {
      await client.send(data);
      since += frameBytes;
      if (since >= batchBytes) {
        since = 0;
        await new Promise((r) => setImmediate(r));
      }
    }
    return { tStart, tEnd: hrNow(), frameBytes };
  }

  /** Disconnects (flushing what was sent). */
  close(): Promise<void> {
    return this.client.disconnect();
  }
}

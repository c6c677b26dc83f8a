// Raw peers and servers over core's in-memory duplexPair (src/duplex-pair.ts).
import type { Duplex } from 'node:stream';
import { afterEach, beforeEach, jest } from '@jest/globals';
import { FrameDecoder, encodeFrame } from '@socketkit/codec';
import { createMessage, MessageType, type MessageData, type SocketMessage } from '@socketkit/protocol';
import { FAKE_TIMERS } from './fake-timers.js';
import {
  duplexPair,
  SocketServer,
  type ClientTransport,
  type ServerTransport,
  type SocketServerOptions,
  type TransportStream,
} from '../src/index.js';

/** A raw peer: writes frames by hand, records every message it reads (unless `reading` is false). */
export class RawPeer {
  readonly messages: SocketMessage[] = [];
  ended = false;
  closed = false;
  readonly decoder = new FrameDecoder({ maxMessageSize: 64 * 1024 });

  constructor(
    readonly stream: Duplex,
    reading = true,
  ) {
    if (reading) this.read();
    stream.on('end', () => {
      this.ended = true;
    });
    stream.on('close', () => {
      this.closed = true;
    });
    stream.on('error', () => undefined);
  }

  /** Starts reading (for a peer created with `reading = false`). */
  read(): void {
    this.stream.on('data', (chunk: Buffer) => this.decoder.feed(chunk, (m) => this.messages.push(m)));
  }

  write(bytes: Uint8Array): void {
    this.stream.write(bytes);
  }

  send(type: MessageType, data: MessageData, extra: { id?: string; eventName?: string } = {}): void {
    this.write(
      encodeFrame(
        createMessage(extra.eventName ?? 'rules', type, data, extra.id === undefined ? {} : { id: extra.id }),
      ),
    );
  }

  hello(extra: MessageData = {}): void {
    this.send(MessageType.CONTROL, { op: 'hello', protocol: 1, ...extra });
  }

  ops(): unknown[] {
    return this.messages.map((m) =>
      m.messageType === 'control' ? m.data.op : m.messageType === 'error' ? m.data.code : m.data,
    );
  }
}

/**
 * A server transport whose connections are made by hand: `open()` makes a pair of streams with `makePair` (core's
 * duplexPair by default), hands the server its end and returns the other.
 */
export function memoryServerTransport(
  makePair: () => [Duplex, Duplex] = duplexPair,
): ServerTransport & { connect(reading?: boolean): RawPeer; open(): Duplex } {
  let accept: ((s: TransportStream) => void) | undefined;
  const open = (): Duplex => {
    if (accept === undefined) throw new Error('not listening');
    const [c, s] = makePair();
    accept(s);
    return c;
  };
  return {
    kind: 'memory',
    address: () => 'memory',
    listen: async (onConnection) => {
      accept = onConnection;
    },
    close: async () => {
      accept = undefined;
    },
    open,
    connect: (reading = true) => new RawPeer(open(), reading),
  };
}

/** Lets streams and promises run: `n` rounds of setImmediate (real). */
export async function settle(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Spins (real setImmediate rounds, no time passes) until `cond` holds; throws after `max` rounds. */
export async function until(cond: () => boolean, what: string, max = 2000): Promise<void> {
  for (let i = 0; i < max; i++) {
    if (cond()) return;
    await new Promise<void>((r) => setImmediate(r));
  }
  throw new Error(`never happened: ${what}`);
}

/**
 * Connects `n` raw peers to `server` through `transport`, each saying hello,
 * records them in `into` (for the test's clean-up) and resolves once every
 * one holds its welcome and nothing else.
 */
export async function welcomedPeers(
  server: SocketServer,
  transport: { connect(): RawPeer },
  n: number,
  into: RawPeer[],
): Promise<RawPeer[]> {
  const ps: RawPeer[] = [];
  for (let i = 0; i < n; i++) {
    const p = transport.connect();
    into.push(p);
    ps.push(p);
    p.hello();
  }
  await until(
    () => server.getConnectedClients().length === n && ps.every((p) => p.messages.length === 1),
    `${n} peers welcomed`,
  );
  return ps;
}

/**
 * The servers and raw peers of one test file over the in-memory transport:
 * `start()` in a test, `stopAll()` in `afterEach` (with fake timers running,
 * it advances them so every graceful close completes).
 */
export class ServerRig {
  readonly servers: SocketServer[] = [];
  readonly peers: RawPeer[] = [];

  /** Starts a server for event `rules`; `connect()` opens a raw peer, `client` is a ClientTransport to it. */
  async start(opts: Partial<SocketServerOptions> = {}) {
    const transport = memoryServerTransport();
    const server = new SocketServer({ eventName: 'rules', transport, logLevel: 'silent', ...opts });
    server.on('error', () => undefined);
    await server.start();
    this.servers.push(server);
    const connect = (reading = true): RawPeer => {
      const p = transport.connect(reading);
      this.peers.push(p);
      return p;
    };
    const client: ClientTransport = { kind: 'memory', address: () => 'memory', connect: async () => transport.open() };
    return { server, transport, connect, client };
  }

  /** Destroys every peer and stops every server, advancing fake timers by `advance`. */
  async stopAll(advance: (ms: number) => Promise<unknown>): Promise<void> {
    for (const p of this.peers.splice(0)) p.stream.destroy();
    const stopping = this.servers.splice(0).map((s) => s.stop());
    await advance(10_000);
    await Promise.all(stopping);
  }
}

/**
 * A {@link ServerRig} for the tests of the enclosing `describe` (or file),
 * with fake timers (see fake-timers.ts) and every server stopped after each test.
 */
export function useServerRig(): ServerRig {
  const rig = new ServerRig();
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: [...FAKE_TIMERS.doNotFake] });
  });
  afterEach(async () => {
    await rig.stopAll((ms) => jest.advanceTimersByTimeAsync(ms));
    jest.useRealTimers();
  });
  return rig;
}

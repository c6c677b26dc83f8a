// Shared harness of the transport conformance suite: every behaviour test runs
// once per transport through these factories, over real sockets.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type ListenOptions, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe } from '@jest/globals';
import { SocketClient, type SocketClientOptions, type SocketServer, type SocketServerOptions, type TransportStream } from '@socketkit/core';
import { encodeFrame } from '@socketkit/codec';
import { CONTROL_OPS, MessageType, PROTOCOL_VERSION, createMessage } from '@socketkit/protocol';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { NatsClientTransport, NatsSocketClient, NatsSocketServer } from '@socketkit/nats';
import { TcpClientTransport, TcpSocketClient, TcpSocketServer } from '@socketkit/tcp';
import { UnixClientTransport, UnixSocketClient, UnixSocketServer } from '@socketkit/unix';

export type ServerOpts = Partial<Omit<SocketServerOptions, 'transport'>>;
export type ClientOpts = Partial<Omit<SocketClientOptions, 'transport'>>;

/** What a transport can promise; tests of a promise a transport cannot keep are skipped for it. */
export interface TransportCaps {
  /** A client that stops reading slows the server's writes (socket back-pressure, per-client pending bytes). */
  backpressure: boolean;
  /** The Python reference module speaks this transport. */
  python: boolean;
}

export interface TransportFactory {
  name: 'unix' | 'tcp' | 'nats';
  caps: TransportCaps;
  server(opts?: ServerOpts): SocketServer;
  /** A client for `server` (which must have been started for tcp, to know its port). */
  client(server: SocketServer, opts?: ClientOpts): SocketClient;
  /** A raw node:net socket to `server`, for hostile-input tests. */
  raw(server: SocketServer): Promise<Socket>;
  /**
   * A raw node:net server at a fresh address that accepts and never writes
   * (a silently dead peer), with a client engine pointed at it.
   */
  silentServer(opts?: ClientOpts, behaviour?: SilentServerBehaviour): Promise<{ client: SocketClient; accepted: Socket[] }>;
  /** Address info for child processes: `{ kind, socketDir, port, servers }`. */
  addr(server: SocketServer): { kind: string; socketDir?: string; port?: number; servers?: string };
}

/** What a silent server does before it goes silent. */
export interface SilentServerBehaviour {
  /** Send a socketkit `welcome` first (a server that did the handshake, then died silently). */
  welcome?: boolean;
}

/** The frame of a socketkit `welcome`, as a server that speaks the handshake sends it first. */
export function welcomeFrame(eventName: string): Buffer {
  return encodeFrame(
    createMessage(eventName, MessageType.CONTROL, {
      op: 'welcome',
      protocol: 1,
      client_id: 'client_silent',
      allow_client_send: true,
      max_message_size: 1048576,
    }),
  );
}

const cleanups: Array<() => Promise<void> | void> = [];

/** Registers a cleanup that runs after the current test (LIFO). */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

afterEach(async () => {
  while (cleanups.length > 0) {
    const fn = cleanups.pop() as () => Promise<void> | void;
    await fn();
  }
});

let counter = 0;
/** A fresh, valid event name per test. */
export function uniqueEvent(prefix = 'ev'): string {
  return `${prefix}_${process.pid}_${++counter}`;
}

/** A fresh private temp dir, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'skc-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const silent = { logLevel: 'silent' as const, envFile: false as const };

function unixFactory(): TransportFactory {
  const dirs = new WeakMap<SocketServer, string>();
  return {
    name: 'unix',
    caps: { backpressure: true, python: true },
    server(opts = {}) {
      const socketDir = tempDir();
      const s = new UnixSocketServer({
        eventName: uniqueEvent(),
        ...silent,
        socketDir,
        ...(opts as object),
      } as ConstructorParameters<typeof UnixSocketServer>[0]);
      dirs.set(s, socketDir);
      onCleanup(() => s.stop());
      return s;
    },
    client(server, opts = {}) {
      const c = new UnixSocketClient({
        eventName: server.eventName,
        ...silent,
        socketDir: dirs.get(server),
        ...(opts as object),
      } as ConstructorParameters<typeof UnixSocketClient>[0]);
      onCleanup(() => c.disconnect());
      return c;
    },
    raw(server) {
      return rawSocket(() => createConnection({ path: (server as UnixSocketServer).socketPath }));
    },
    async silentServer(opts = {}, behaviour = {}) {
      const dir = tempDir();
      const eventName = uniqueEvent('silent');
      const transport = new UnixClientTransport(dir, eventName);
      const { accepted } = await rawServer({ path: transport.path }, behaviour.welcome === true ? welcomeFrame(eventName) : undefined);
      const client = new SocketClient({ eventName, transport, logLevel: 'silent', ...(opts as object) });
      onCleanup(() => client.disconnect());
      return { client, accepted };
    },
    addr(server) {
      return { kind: 'unix', socketDir: dirs.get(server) as string };
    },
  };
}

function tcpFactory(): TransportFactory {
  return {
    name: 'tcp',
    caps: { backpressure: true, python: true },
    server(opts = {}) {
      const s = new TcpSocketServer({
        eventName: uniqueEvent(),
        ...silent,
        port: 0,
        ...(opts as object),
      } as ConstructorParameters<typeof TcpSocketServer>[0]);
      onCleanup(() => s.stop());
      return s;
    },
    client(server, opts = {}) {
      const port = (server as TcpSocketServer).port;
      if (port === undefined || port === 0) throw new Error('start the tcp server before creating a client');
      const c = new TcpSocketClient({
        eventName: server.eventName,
        ...silent,
        port,
        ...(opts as object),
      } as ConstructorParameters<typeof TcpSocketClient>[0]);
      onCleanup(() => c.disconnect());
      return c;
    },
    raw(server) {
      return rawSocket(() => createConnection({ host: '127.0.0.1', port: (server as TcpSocketServer).port as number }));
    },
    async silentServer(opts = {}, behaviour = {}) {
      const eventName = uniqueEvent('silent');
      const { accepted, port } = await rawServer({ host: '127.0.0.1', port: 0 }, behaviour.welcome === true ? welcomeFrame(eventName) : undefined);
      const client = new SocketClient({
        eventName,
        transport: new TcpClientTransport('127.0.0.1', port as number, eventName),
        logLevel: 'silent',
        ...(opts as object),
      });
      onCleanup(() => client.disconnect());
      return { client, accepted };
    },
    addr(server) {
      return { kind: 'tcp', port: (server as TcpSocketServer).port as number };
    },
  };
}

async function rawServer(listen: ListenOptions, first?: Buffer): Promise<{ accepted: Socket[]; port: number | undefined }> {
  const accepted: Socket[] = [];
  const server = createServer((s) => {
    s.on('error', () => undefined);
    if (first !== undefined) s.write(first);
    accepted.push(s);
  });
  await new Promise<void>((resolve) => server.listen(listen, resolve));
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const s of accepted) s.destroy();
        server.close(() => resolve());
      }),
  );
  const a = server.address();
  return { accepted, port: typeof a === 'object' && a !== null ? a.port : undefined };
}

// One nats-server per test file, started only when a NATS block of the file
// runs (importing the harness starts nothing), stopped after the file.
let nats: NatsServerHandle | undefined;
afterAll(async () => {
  await nats?.stop();
  nats = undefined;
});

/** Starts this file's nats-server before the tests of the enclosing block (once per file). */
export function useNatsServer(): void {
  beforeAll(async () => {
    nats ??= await startNatsServer();
  });
}

function natsUrl(): string {
  if (nats === undefined) throw new Error('nats-server not started (beforeAll)');
  return nats.url;
}

function natsFactory(): TransportFactory {
  const raw = async (eventName: string): Promise<TransportStream> => {
    const transport = new NatsClientTransport({ eventName, servers: natsUrl() });
    const stream = await transport.connect(new AbortController().signal);
    stream.on('error', () => undefined);
    // Over NATS every peer must say hello within the auth timeout (issue 11): a raw peer does.
    stream.write(encodeFrame(createMessage(eventName, MessageType.CONTROL, { op: CONTROL_OPS.HELLO, protocol: PROTOCOL_VERSION })));
    onCleanup(async () => {
      stream.destroy();
      await transport.close();
    });
    return stream;
  };
  return {
    name: 'nats',
    caps: { backpressure: false, python: false },
    server(opts = {}) {
      const s = new NatsSocketServer({
        eventName: uniqueEvent(),
        ...silent,
        servers: natsUrl(),
        ...(opts as object),
      } as ConstructorParameters<typeof NatsSocketServer>[0]);
      onCleanup(() => s.stop());
      return s;
    },
    client(server, opts = {}) {
      const c = new NatsSocketClient({
        eventName: server.eventName,
        ...silent,
        servers: natsUrl(),
        ...(opts as object),
      } as ConstructorParameters<typeof NatsSocketClient>[0]);
      onCleanup(() => c.disconnect());
      return c;
    },
    raw(server) {
      return raw(server.eventName) as unknown as Promise<Socket>;
    },
    async silentServer(opts = {}, behaviour = {}) {
      const { connect: natsConnect } = await import('@nats-io/transport-node');
      const eventName = uniqueEvent('silent');
      const nc = await natsConnect({ servers: natsUrl() });
      const accepted: Socket[] = [];
      nc.subscribe(`socketkit.${eventName}.connect`, {
        callback: (_e, msg) => {
          accepted.push({} as Socket);
          msg.respond(new TextEncoder().encode('ok'));
          if (behaviour.welcome === true) nc.publish(`socketkit.${eventName}.c.${new TextDecoder().decode(msg.data)}`, welcomeFrame(eventName));
        },
      });
      await nc.flush();
      onCleanup(() => nc.close());
      const client = new SocketClient({
        eventName,
        transport: new NatsClientTransport({ eventName, servers: natsUrl() }),
        logLevel: 'silent',
        ...(opts as object),
      });
      onCleanup(() => client.disconnect());
      return { client, accepted };
    },
    addr() {
      return { kind: 'nats', servers: natsUrl() };
    },
  };
}

function rawSocket(make: () => Socket): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = make();
    s.once('connect', () => resolve(s));
    s.once('error', reject);
    onCleanup(() => {
      s.destroy();
    });
  });
}

/** The transports every conformance test runs against. */
export const transports: TransportFactory[] = [unixFactory(), tcpFactory(), natsFactory()];

/** `describe.each` over every transport (or those `filter` keeps). */
export function describeTransports(title: string, fn: (t: TransportFactory) => void, filter: (t: TransportFactory) => boolean = () => true): void {
  describe.each(transports.filter(filter).map((t) => [t.name, t] as const))(`${title} [%s]`, (_name, t) => {
    if (t.name === 'nats') useNatsServer();
    fn(t);
  });
}

/** Resolves when `predicate()` is true, checking on every event-loop turn (never a fixed sleep). */
export async function until(predicate: () => boolean, what: string, limitMs = 10000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves with the arguments of the next `event` on `emitter`. */
export function once<T extends unknown[]>(emitter: { once(e: string, l: (...a: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)));
}

/** Collects every chunk a raw socket receives until it closes. */
export function readAll(socket: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

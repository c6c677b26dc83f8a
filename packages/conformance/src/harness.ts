// Shared harness of the transport conformance suite: every behaviour test runs
// once per transport of the registry (socketkit's transportNames(): the
// built-in ones and any added with registerTransport()), creating servers
// and clients through that registry, over real sockets.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type ListenOptions, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, it } from '@jest/globals';
import {
  SocketClient,
  type SocketClientOptions,
  type SocketServer,
  type SocketServerOptions,
  type TransportStream,
} from '@socketkit/core';
import { encodeFrame } from '@socketkit/codec';
import { CONTROL_OPS, MessageType, PROTOCOL_VERSION, createMessage } from '@socketkit/protocol';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { NatsClientTransport } from '@socketkit/nats';
import { TcpClientTransport, type TcpSocketServer } from '@socketkit/tcp';
import { UnixClientTransport, type UnixSocketServer } from '@socketkit/unix';
import { transportImplementation, transportNames, type TransportImplementation } from 'socketkit';

export type ServerOpts = Partial<Omit<SocketServerOptions, 'transport'>>;
export type ClientOpts = Partial<Omit<SocketClientOptions, 'transport'>>;

/** What a transport can promise; tests of a promise a transport cannot keep are skipped for it. */
export interface TransportCaps {
  /** A client that stops reading slows the server's writes (socket back-pressure, per-client pending bytes). */
  backpressure: boolean;
  /** The Python reference module speaks this transport. */
  python: boolean;
  /**
   * The fixture gives raw byte streams to a server (`raw`) and servers that go silent (`silentServer`), for
   * hostile-input tests.
   */
  raw: boolean;
  /** Other processes can reach a server (`addr`). */
  processes: boolean;
}

export interface TransportFactory {
  /** A name from the transport registry (`transportNames()`). */
  name: string;
  caps: TransportCaps;
  /** Called inside each `describeTransports` block for this transport (e.g. starts the block's nats-server). */
  setup?(): void;
  server(opts?: ServerOpts): SocketServer;
  /** A client for `server` (which must have been started for tcp, to know its port). */
  client(server: SocketServer, opts?: ClientOpts): SocketClient;
  /** A raw node:net socket to `server`, for hostile-input tests. */
  raw(server: SocketServer): Promise<Socket>;
  /**
   * A raw node:net server at a fresh address that accepts and never writes
   * (a silently dead peer), with a client engine pointed at it.
   */
  silentServer(
    opts?: ClientOpts,
    behaviour?: SilentServerBehaviour,
  ): Promise<{ client: SocketClient; accepted: Socket[] }>;
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

/**
 * What the conformance suite needs to know about a transport beyond what the
 * registry gives (`createServer` / `createClient`): how to isolate one test's
 * server and point a client at it, and what it can promise. The built-in
 * transports have theirs here; a transport added with `registerTransport()`
 * may register one with {@link registerConformanceFixture}, else it runs with
 * no extra options and no capabilities (the tests that need raw sockets,
 * other processes or back-pressure are skipped for it).
 */
export interface ConformanceFixture {
  caps: TransportCaps;
  /** Options that isolate one test's server (a fresh socket dir, port 0, the test broker). */
  serverOptions?(): Record<string, unknown>;
  /** Options a client needs to reach `server` (started, for transports that pick their address at start). */
  clientOptions?(server: SocketServer): Record<string, unknown>;
  /** Called inside each `describeTransports` block for this transport (e.g. to start a broker before its tests). */
  setup?(): void;
  raw?: TransportFactory['raw'];
  silentServer?: TransportFactory['silentServer'];
  addr?: TransportFactory['addr'];
}

const fixtures = new Map<string, ConformanceFixture>();

/** Registers how the conformance suite runs a registered transport (see {@link ConformanceFixture}). */
export function registerConformanceFixture(name: string, fixture: ConformanceFixture): void {
  fixtures.set(name, fixture);
}

const unixFixture: ConformanceFixture = {
  caps: { backpressure: true, python: true, raw: true, processes: true },
  serverOptions: () => ({ socketDir: tempDir() }),
  clientOptions: (server) => ({ socketDir: dirname((server as UnixSocketServer).socketPath) }),
  raw(server) {
    return rawSocket(() => createConnection({ path: (server as UnixSocketServer).socketPath }));
  },
  async silentServer(opts = {}, behaviour = {}) {
    const dir = tempDir();
    const eventName = uniqueEvent('silent');
    const transport = new UnixClientTransport(dir, eventName);
    const { accepted } = await rawServer(
      { path: transport.path },
      behaviour.welcome === true ? welcomeFrame(eventName) : undefined,
    );
    const client = new SocketClient({ eventName, transport, logLevel: 'silent', ...(opts as object) });
    onCleanup(() => client.disconnect());
    return { client, accepted };
  },
  addr(server) {
    return { kind: 'unix', socketDir: dirname((server as UnixSocketServer).socketPath) };
  },
};

const tcpFixture: ConformanceFixture = {
  caps: { backpressure: true, python: true, raw: true, processes: true },
  serverOptions: () => ({ port: 0 }),
  clientOptions(server) {
    const port = (server as TcpSocketServer).port;
    if (port === undefined || port === 0) throw new Error('start the tcp server before creating a client');
    return { port };
  },
  raw(server) {
    return rawSocket(() => createConnection({ host: '127.0.0.1', port: (server as TcpSocketServer).port as number }));
  },
  async silentServer(opts = {}, behaviour = {}) {
    const eventName = uniqueEvent('silent');
    const { accepted, port } = await rawServer(
      { host: '127.0.0.1', port: 0 },
      behaviour.welcome === true ? welcomeFrame(eventName) : undefined,
    );
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

async function rawServer(
  listen: ListenOptions,
  first?: Buffer,
): Promise<{ accepted: Socket[]; port: number | undefined }> {
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

const natsRaw = async (eventName: string): Promise<TransportStream> => {
  const transport = new NatsClientTransport({ eventName, servers: natsUrl() });
  const stream = await transport.connect(new AbortController().signal);
  stream.on('error', () => undefined);
  // Over NATS every peer must say hello within the auth timeout (issue 11): a raw peer does.
  stream.write(
    encodeFrame(createMessage(eventName, MessageType.CONTROL, { op: CONTROL_OPS.HELLO, protocol: PROTOCOL_VERSION })),
  );
  onCleanup(async () => {
    stream.destroy();
    await transport.close();
  });
  return stream;
};

const natsFixture: ConformanceFixture = {
  caps: { backpressure: false, python: false, raw: true, processes: true },
  serverOptions: () => ({ servers: natsUrl() }),
  clientOptions: () => ({ servers: natsUrl() }),
  setup: useNatsServer,
  raw(server) {
    return natsRaw(server.eventName) as unknown as Promise<Socket>;
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
        if (behaviour.welcome === true)
          nc.publish(`socketkit.${eventName}.c.${new TextDecoder().decode(msg.data)}`, welcomeFrame(eventName));
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

registerConformanceFixture('unix', unixFixture);
registerConformanceFixture('tcp', tcpFixture);
registerConformanceFixture('nats', natsFixture);

// Implementations of the registered transports, loaded through the registry
// (the built-in ones when the harness is imported; a transport registered
// later, in the beforeAll of its describeTransports blocks).
const loaded = new Map<string, TransportImplementation>();

/** Loads the implementation of every registered transport (idempotent). */
export async function loadTransports(names: readonly string[] = transportNames()): Promise<void> {
  for (const name of names) if (!loaded.has(name)) loaded.set(name, await transportImplementation(name));
}

function unsupported(name: string, what: string): never {
  throw new Error(
    `transport "${name}" has no conformance fixture for ${what}: registerConformanceFixture("${name}", { ${what}, ` +
      `caps }) to run these tests`,
  );
}

/**
 * The factory of the registered transport `name`: servers and clients through the registry, the rest from its fixture.
 */
export function transportFactory(name: string): TransportFactory {
  const fixture = fixtures.get(name) ?? { caps: { backpressure: false, python: false, raw: false, processes: false } };
  const impl = (): TransportImplementation => {
    const i = loaded.get(name);
    if (i === undefined)
      throw new Error(`transport "${name}" not loaded: await loadTransports() first (describeTransports does)`);
    return i;
  };
  return {
    name,
    caps: fixture.caps,
    setup: () => fixture.setup?.(),
    server(opts = {}) {
      const s = impl().createServer({
        eventName: uniqueEvent(),
        ...silent,
        ...(fixture.serverOptions?.() ?? {}),
        ...(opts as object),
      });
      onCleanup(() => s.stop());
      return s;
    },
    client(server, opts = {}) {
      const c = impl().createClient({
        eventName: server.eventName,
        ...silent,
        ...(fixture.clientOptions?.(server) ?? {}),
        ...(opts as object),
      });
      onCleanup(() => c.disconnect());
      return c;
    },
    raw: (server) => (fixture.raw ?? (() => unsupported(name, 'raw')))(server),
    silentServer: (opts, behaviour) =>
      (fixture.silentServer ?? (() => unsupported(name, 'silentServer')))(opts, behaviour),
    addr: (server) => (fixture.addr ?? (() => unsupported(name, 'addr')))(server),
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

await loadTransports();

/**
 * Factories of the transports registered when the harness was imported (the built-in ones), for tests outside {@link
 * describeTransports}.
 */
export const transports: TransportFactory[] = transportNames().map(transportFactory);

let selected: readonly string[] | undefined;

/**
 * Runs the following {@link describeTransports} blocks on these transports
 * only (default: every registered one). A file that proves a third-party
 * transport calls it before importing the suites.
 */
export function selectTransports(names: readonly string[] | undefined): void {
  selected = names;
}

/** The selection made with {@link selectTransports}, if any. */
export function transportSelection(): readonly string[] | undefined {
  return selected;
}

/**
 * Names of the transports {@link describeTransports} runs on: the registry's ({@link transportNames}), or the
 * selection.
 */
export function conformanceTransportNames(): string[] {
  return transportNames().filter((n) => selected === undefined || selected.includes(n));
}

/** `describe.each` over every registered transport (or those `filter` keeps). */
export function describeTransports(
  title: string,
  fn: (t: TransportFactory) => void,
  filter: (t: TransportFactory) => boolean = () => true,
): void {
  const factories = conformanceTransportNames().map(transportFactory).filter(filter);
  if (factories.length === 0) {
    const names = conformanceTransportNames().join(', ');
    describe(title, () =>
      it.skip(`${title} [skipped: none of the transports run here (${names}) has what these tests need]`, () =>
        undefined),
    );
    return;
  }
  describe.each(factories.map((t) => [t.name, t] as const))(`${title} [%s]`, (_name, t) => {
    beforeAll(() => loadTransports([t.name]));
    t.setup?.();
    fn(t);
  });
}

/** `it` when `condition` holds, else `it.skip` with `why` in the name (every skip states its reason). */
export function itIf(
  condition: boolean,
  why: string,
): (name: string, fn: () => Promise<void>, timeout?: number) => void {
  return condition ? it : (name, fn, timeout) => it.skip(`${name} [skipped: ${why}]`, fn, timeout);
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
export function once<T extends unknown[]>(
  emitter: { once(e: string, l: (...a: T) => void): unknown },
  event: string,
): Promise<T> {
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

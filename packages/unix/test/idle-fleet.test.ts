// Issue 28 item 5: a server's cost per idle client must not grow with the number of clients. Real Unix sockets;
// the assertions count work (reads of a peer's state, interval timers), never time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { ServerPeer } from '@socketkit/core';
import { UnixSocketClient, UnixSocketServer, type UnixSocketServerOptions } from '../src/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void> | void)();
});

const dirs = new Map<UnixSocketServer, string>();

async function startServer(event: string, options: Partial<UnixSocketServerOptions> = {}): Promise<UnixSocketServer> {
  const socketDir = mkdtempSync(join(tmpdir(), 'skidle-'));
  cleanups.push(() => rmSync(socketDir, { recursive: true, force: true }));
  const server = new UnixSocketServer({ eventName: event, socketDir, logLevel: 'silent', envFile: false, ...options });
  await server.start();
  cleanups.push(() => server.stop());
  dirs.set(server, socketDir);
  return server;
}

/** Connects `n` clients, `burst` at a time; resolves once the server announced every one (clientConnected). */
async function connectFleet(server: UnixSocketServer, n: number, burst = 50): Promise<UnixSocketClient[]> {
  const clients: UnixSocketClient[] = [];
  cleanups.push(async () => {
    await Promise.all(clients.map((c) => c.disconnect()));
  });
  let announced = 0;
  const all = new Promise<void>((resolve) =>
    server.on('clientConnected', () => {
      if (++announced === n) resolve();
    }),
  );
  for (let i = 0; i < n; i += burst) {
    const wave = Array.from({ length: Math.min(burst, n - i) }, () => {
      const c = new UnixSocketClient({
        eventName: server.eventName,
        socketDir: dirs.get(server) as string,
        logLevel: 'silent',
        envFile: false,
        autoReconnect: false,
        connectTimeout: 20_000,
      });
      clients.push(c);
      return c.connect();
    });
    await Promise.all(wave);
  }
  await all;
  return clients;
}

/** Counts reads of `ServerPeer#state` while `fn` runs (the getter every walk over the peers reads). */
async function countStateReads(fn: () => Promise<void>): Promise<number> {
  const proto = ServerPeer.prototype as object;
  const desc = Object.getOwnPropertyDescriptor(proto, 'state') as PropertyDescriptor;
  const get = desc.get as (this: ServerPeer) => string;
  let reads = 0;
  Object.defineProperty(proto, 'state', {
    ...desc,
    get(this: ServerPeer) {
      reads++;
      return get.call(this);
    },
  });
  try {
    await fn();
  } finally {
    Object.defineProperty(proto, 'state', desc);
  }
  return reads;
}

describe('an idle fleet on one server (issue 28 item 5)', () => {
  it('admitting and registering a client does not walk every other peer (O(1) per connect)', async () => {
    const n = 300;
    const server = await startServer('idle_census', { maxConnections: n });
    let clients: UnixSocketClient[] = [];
    const reads = await countStateReads(async () => {
      clients = await connectFleet(server, n);
    });
    expect(clients.filter((c) => c.isConnected())).toHaveLength(n);
    expect(server.connectionCounts.registered).toBe(n);
    // A walk over the registry per accept and per registration read the state ~5 × n²/2 = 225,000 times here.
    expect(reads).toBeLessThan(20 * n);
  }, 60_000);

  it('a broadcast visits each peer once (one pass over 10,000 peers per message, not two)', async () => {
    const n = 50;
    const server = await startServer('idle_fanout', { maxConnections: n });
    const clients = await connectFleet(server, n);
    let got = 0;
    const all = new Promise<void>((resolve) => {
      for (const c of clients)
        c.on('message', () => {
          if (++got === 10 * n) resolve();
        });
    });
    const reads = await countStateReads(async () => {
      for (let i = 0; i < 10; i++) expect(server.send({ i })).toBe(n);
    });
    await all;
    // Two passes (count the clients, then deliver) read it 2 × n times per message.
    expect(reads).toBeLessThanOrEqual(10 * n);
  }, 60_000);

  it('one interval timer pings every idle client of a server, however many; each is pinged and stays', async () => {
    const n = 40;
    const server = await startServer('idle_heartbeat', { maxConnections: n, heartbeatInterval: 100 });
    const real = globalThis.setInterval;
    let intervals = 0;
    globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
      intervals++;
      return real(...args);
    }) as typeof setInterval;
    let clients: UnixSocketClient[];
    try {
      clients = await connectFleet(server, n);
    } finally {
      globalThis.setInterval = real;
    }
    // One timer per peer before (40); one per server and interval now (started with the first peer).
    expect(intervals).toBeLessThanOrEqual(1);
    // Every client gets pings (welcome + 2 pings out at least) and answers them: none is dropped.
    const pinged = (): boolean => server.stats().clients.every((c) => c.messagesOut >= 3);
    while (!pinged()) await new Promise((r) => setTimeout(r, 50));
    expect(server.stats().clients).toHaveLength(n);
    expect(clients.filter((c) => c.isConnected())).toHaveLength(n);
  }, 60_000);

  it('with one shared timer, a silent peer is still dropped after heartbeatTimeout, the others stay', async () => {
    const server = await startServer('idle_silent', {
      maxConnections: 8,
      heartbeatInterval: 50,
      heartbeatTimeout: 200,
    });
    const clients = await connectFleet(server, 4);
    const gone = new Promise<string>((resolve) => server.on('clientDisconnected', (_id, _text, code) => resolve(code)));
    // A raw peer that says hello, then never sends another byte (a hung process): heartbeat-checked, never answers.
    await silentPeer(server);
    expect(await gone).toBe('TIMEOUT');
    expect(clients.filter((c) => c.isConnected())).toHaveLength(4);
  }, 30_000);
});

/** A raw peer that says hello (a hand-built frame), then never sends another byte. */
async function silentPeer(server: UnixSocketServer): Promise<void> {
  const { createConnection } = await import('node:net');
  const socket = createConnection(server.socketPath);
  cleanups.push(() => void socket.destroy());
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const body = pack({
    event_name: server.eventName,
    timestamp_ms: Date.now(),
    timestamp_iso: new Date().toISOString(),
    message_type: 'control',
    data: { op: 'hello', protocol: 2, event: server.eventName },
  });
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  socket.write(Buffer.concat([head, body]));
}

/** The msgpack of a map of strings, small maps and non-negative integers (all a hello needs). */
function pack(v: unknown): Buffer {
  if (typeof v === 'string') {
    const s = Buffer.from(v);
    return Buffer.concat([Buffer.from(s.length < 32 ? [0xa0 | s.length] : [0xd9, s.length]), s]);
  }
  if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 0xcf;
    b.writeBigUInt64BE(BigInt(v), 1);
    return b;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  return Buffer.concat([Buffer.from([0x80 | entries.length]), ...entries.flatMap(([k, x]) => [pack(k), pack(x)])]);
}

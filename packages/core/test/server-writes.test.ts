// How the server hands frames to its streams (issue 16, server side): a
// broadcast tick is concatenated once and the same buffer is written to
// every connection that took exactly the same frames; a connection whose
// batch differs (it also got a unicast) gets its own, in order. Over the
// in-memory duplex pair, with every chunk the server writes recorded: no
// sockets, no timing.
import { afterEach, describe, expect, it } from '@jest/globals';
import { FrameDecoder } from '@socketkit/codec';
import { MessageType, type SocketMessage } from '@socketkit/protocol';
import { SocketServer, type ServerTransport, type SocketServerOptions, type TransportStream } from '../src/index.js';
import { memoryServerTransport, settle, until, type RawPeer, welcomedPeers } from './duplex-pair.js';

/** Every chunk the server wrote to one connection, in order. */
type Writes = Uint8Array[];

/** The memory transport, recording what the server writes to each accepted stream (in accept order). */
function recordingTransport(): ServerTransport & { connect(): RawPeer; writes: Writes[] } {
  const t = memoryServerTransport();
  const writes: Writes[] = [];
  return {
    ...t,
    writes,
    listen: (onConnection, options) =>
      t.listen((stream: TransportStream) => {
        const mine: Writes = [];
        writes.push(mine);
        const write = stream.write.bind(stream) as (chunk: Uint8Array) => boolean;
        (stream as unknown as { write: (chunk: Uint8Array) => boolean }).write = (chunk: Uint8Array) => {
          mine.push(chunk);
          return write(chunk);
        };
        onConnection(stream);
      }, options),
  };
}

const servers: SocketServer[] = [];
const peers: RawPeer[] = [];

afterEach(async () => {
  for (const p of peers.splice(0)) p.stream.destroy();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

async function setup(clients: number, handler?: () => unknown, opts: Partial<SocketServerOptions> = {}) {
  const transport = recordingTransport();
  const server = new SocketServer({
    eventName: 'rules',
    transport,
    logLevel: 'silent',
    registerGraceMs: 1,
    closeGraceMs: 1,
    handler,
    ...opts,
  });
  await server.start();
  servers.push(server);
  const ps = await welcomedPeers(server, transport, clients, peers);
  const ids = server.getConnectedClients().map((c) => c.id);
  // what each connection was written from now on
  const marks = transport.writes.map((w) => w.length);
  const since = (i: number): Writes => transport.writes[i]!.slice(marks[i]);
  return { server, peers: ps, ids, since };
}

function decodeAll(chunks: Writes): SocketMessage[] {
  const d = new FrameDecoder({ maxMessageSize: 1024 * 1024 });
  const out: SocketMessage[] = [];
  for (const c of chunks) d.feed(c, (m) => out.push(m));
  return out;
}

describe('broadcast: one buffer per tick, shared by the connections that took the same frames', () => {
  it('writes the same buffer object to every connection', async () => {
    const { server, peers: ps, since } = await setup(3);
    for (let i = 0; i < 50; i++) server.send({ i });
    await until(() => ps.every((p) => p.messages.length === 51), 'all broadcasts read');
    const [a, b, c] = [since(0), since(1), since(2)];
    expect(a).toHaveLength(1);
    expect(b[0]).toBe(a[0]);
    expect(c[0]).toBe(a[0]);
    expect(decodeAll(a).map((m) => m.data.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('a connection that also got a unicast in the same tick gets every frame in order, in its own buffer', async () => {
    const { server, peers: ps, ids, since } = await setup(3);
    server.send({ i: 0 });
    server.send({ i: 1 });
    server.send({ only: 'b' }, ids[1]);
    server.send({ i: 2 });
    await until(
      () => ps[0]!.messages.length === 4 && ps[1]!.messages.length === 5 && ps[2]!.messages.length === 4,
      'all read',
    );
    expect(ps[1]!.messages.slice(1).map((m) => m.data)).toEqual([{ i: 0 }, { i: 1 }, { only: 'b' }, { i: 2 }]);
    for (const p of [ps[0]!, ps[2]!])
      expect(p.messages.slice(1).map((m) => m.data)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    const [a, b, c] = [since(0), since(1), since(2)];
    expect(c[0]).toBe(a[0]);
    expect(b[0]).not.toBe(a[0]);
    expect(decodeAll(b).map((m) => m.data)).toEqual([{ i: 0 }, { i: 1 }, { only: 'b' }, { i: 2 }]);
  });

  it('never mutates a buffer once it was written', async () => {
    const { server, peers: ps, since } = await setup(2);
    for (let i = 0; i < 20; i++) server.send({ i, pad: 'x'.repeat(100) });
    await until(() => ps.every((p) => p.messages.length === 21), 'first tick read');
    const first = since(0)[0]!;
    const copy = Buffer.from(first);
    for (let tick = 0; tick < 5; tick++) {
      for (let i = 0; i < 20; i++) server.send({ tick, i, pad: 'y'.repeat(100) });
      await settle(2);
    }
    await until(() => ps.every((p) => p.messages.length === 121), 'later ticks read');
    expect(Buffer.from(first).equals(copy)).toBe(true);
  });

  it('hands the stream at most 64 KiB of small frames per write', async () => {
    const { server, peers: ps, since } = await setup(2);
    for (let i = 0; i < 2000; i++) server.send({ i, pad: 'z'.repeat(100) });
    await until(() => ps.every((p) => p.messages.length === 2001), 'all read');
    for (const w of [since(0), since(1)]) {
      expect(w.length).toBeGreaterThan(1);
      for (const chunk of w) expect(chunk.length).toBeLessThanOrEqual(64 * 1024);
    }
    expect(decodeAll(since(1)).map((m) => m.data.i)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });
});

describe('replies', () => {
  it('replies and broadcasts of one tick still arrive in the order they were sent', async () => {
    const { server, peers: ps } = await setup(1, () => ({ ok: true }));
    server.on('message', (m) => {
      if (m.data.q === 1) {
        server.send({ after: 1 });
        server.send({ after: 2 });
      }
    });
    ps[0]!.send(MessageType.DATA, { q: 1 }, { id: 'r1' });
    ps[0]!.send(MessageType.DATA, { q: 2 }, { id: 'r2' });
    await until(() => ps[0]!.messages.length === 5, 'all read');
    expect(ps[0]!.messages.slice(1).map((m) => m.replyTo ?? m.data)).toEqual(['r1', { after: 1 }, { after: 2 }, 'r2']);
  });
});

describe('large bins (issue 28): written as they are, not copied', () => {
  const blob = (n: number, seed: number): Buffer => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = (i * 5 + seed) & 0xff;
    return b;
  };

  it('a bin of 16 KiB or more is the caller’s buffer in the chunks written to each client; exact bytes', async () => {
    const { server, peers: ps, since } = await setup(2);
    const big = blob(40_000, 1);
    const small = blob(1000, 2);
    const before = server.stats().clients.map((c) => c.bytesOut);
    server.send({ seq: 1, big, small });
    await until(() => ps.every((p) => p.messages.length === 2), 'read');
    for (const i of [0, 1]) {
      const w = since(i);
      expect(w.filter((c) => c === big)).toHaveLength(1);
      expect(w.some((c) => c === small)).toBe(false);
      const [m] = decodeAll(w);
      expect(Buffer.compare(m!.data.big as Buffer, big)).toBe(0);
      expect(Buffer.compare(m!.data.small as Buffer, small)).toBe(0);
      expect(ps[i]!.messages[1]!.data.seq).toBe(1);
    }
    // counted as one frame of all its bytes, on each client
    const frameBytes = since(0).reduce((n, c) => n + c.length, 0);
    expect(since(1).reduce((n, c) => n + c.length, 0)).toBe(frameBytes);
    expect(server.stats().clients.map((c, i) => c.bytesOut - (before[i] as number))).toEqual([frameBytes, frameBytes]);
  });

  it('no client registered: the queued frame is a copy, a bin changed after send() arrives as it was', async () => {
    const transport = recordingTransport();
    const server = new SocketServer({ eventName: 'rules', transport, logLevel: 'silent', registerGraceMs: 1 });
    await server.start();
    servers.push(server);
    const big = blob(40_000, 3);
    const sent = Buffer.from(big);
    expect(server.send({ big })).toBe(0);
    big.fill(0);
    const p = transport.connect();
    peers.push(p);
    p.hello();
    await until(() => p.messages.length === 2, 'welcome and queued message read');
    expect(Buffer.compare(p.messages[1]!.data.big as Buffer, sent)).toBe(0);
  });
});

describe('fan-out (issue 28): one shared run per tick, each connection visited once per tick', () => {
  /** Counts reads of a stream's write-side state (what a per-message delivery checks against maxPendingBytes). */
  function countReads(stream: TransportStream): { reads: number } {
    const seen = { reads: 0 };
    const proto = Object.getPrototypeOf(stream) as object;
    let desc: PropertyDescriptor | undefined;
    for (let o: object | null = proto; o !== null && desc === undefined; o = Object.getPrototypeOf(o))
      desc = Object.getOwnPropertyDescriptor(o, 'writableLength');
    Object.defineProperty(stream, 'writableLength', {
      configurable: true,
      get() {
        seen.reads++;
        return desc?.get?.call(stream) as number;
      },
    });
    return seen;
  }

  it('100 broadcasts in one tick to 4 clients: one write per client, its state read a few times', async () => {
    const transport = recordingTransport();
    const streams: TransportStream[] = [];
    const counting: ServerTransport = {
      ...transport,
      listen: (onConnection, options) =>
        transport.listen((stream) => {
          streams.push(stream);
          onConnection(stream);
        }, options),
    };
    const server = new SocketServer({
      eventName: 'rules',
      transport: counting,
      logLevel: 'silent',
      registerGraceMs: 1,
    });
    await server.start();
    servers.push(server);
    const ps = await welcomedPeers(server, transport, 4, peers);
    const reads = streams.map(countReads);
    const marks = transport.writes.map((w) => w.length);
    for (let i = 0; i < 100; i++) expect(server.send({ i })).toBe(4);
    await until(() => ps.every((p) => p.messages.length === 101), 'all broadcasts read');
    for (let c = 0; c < 4; c++) {
      expect(transport.writes[c]!.length - marks[c]!).toBe(1);
      expect(reads[c]!.reads).toBeLessThan(10);
      expect(ps[c]!.messages.slice(1).map((m) => m.data.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    }
  });

  it('a tick past maxPendingBytes (drop): each client takes what fits, in order, counted exactly', async () => {
    const { server, peers: ps, ids } = await setup(3, undefined, { maxPendingBytes: 4000, slowConsumerPolicy: 'drop' });
    const dropped = new Map<string, number>();
    server.on('messageDropped', (id) => dropped.set(id, (dropped.get(id) ?? 0) + 1));
    server.send({ only: 'b', pad: 'u'.repeat(1500) }, ids[1]);
    const counts: number[] = [];
    for (let i = 0; i < 80; i++) counts.push(server.send({ i, pad: 'x'.repeat(20) }));
    expect(counts[0]).toBe(3);
    expect(counts.at(-1)).toBe(0);
    for (let i = 1; i < 80; i++) expect(counts[i]).toBeLessThanOrEqual(counts[i - 1] as number);
    expect(counts).toContain(2); // the client with the unicast pending reached its bound first
    const total = counts.reduce((a, b) => a + b, 0);
    await until(() => ps.reduce((n, p) => n + p.messages.length, 0) === 3 + 1 + total, 'what fit was read');
    const got = ps.map((p) => p.messages.filter((m) => m.data.i !== undefined).map((m) => m.data.i));
    for (const g of got) expect(g).toEqual(Array.from({ length: g.length }, (_, i) => i));
    expect(got[0]).toEqual(got[2]);
    expect(got[1]!.length).toBeLessThan(got[0]!.length);
    expect(ps[1]!.messages[1]!.data.only).toBe('b');
    ids.forEach((id, c) => expect(dropped.get(id)).toBe(80 - got[c]!.length));
    const stats = server.stats().clients;
    ids.forEach((id, c) => {
      const s = stats.find((x) => x.id === id)!;
      expect(s.messagesOut).toBe(ps[c]!.messages.length);
      expect(s.bytesOut).toBe(ps[c]!.decoder.bytesReceived);
    });
    // drained: the next broadcast reaches every client again
    expect(server.send({ after: 1 })).toBe(3);
    await until(() => ps.every((p) => p.messages.at(-1)?.data.after === 1), 'after read');
  });

  it('drain() counts the shared run: a tick above the high-water mark goes to every stream', async () => {
    const { server, peers: ps, since } = await setup(3);
    for (let i = 0; i < 200; i++) server.send({ i, pad: 'p'.repeat(100) }); // > 16 KiB of frames, one tick
    expect(server.getConnectedClients().every((c) => c.pendingBytes > 16 * 1024)).toBe(true);
    expect([since(0).length, since(1).length, since(2).length]).toEqual([0, 0, 0]);
    const drained = server.drain();
    expect([since(0).length, since(1).length, since(2).length]).toEqual([1, 1, 1]);
    expect(since(1)[0]).toBe(since(0)[0]);
    expect(since(2)[0]).toBe(since(0)[0]);
    server.send({ i: 200 });
    await drained;
    await until(() => ps.every((p) => p.messages.length === 202), 'all read');
    for (const p of ps)
      expect(p.messages.slice(1).map((m) => m.data.i)).toEqual(Array.from({ length: 201 }, (_, i) => i));
  });
});

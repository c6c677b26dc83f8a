// Hostile or odd traffic against the server's shared write path (BatchShare): mixed ticks and a stalled peer.
import { afterEach, describe, expect, it } from '@jest/globals';
import { SocketServer, type SocketServerOptions } from '../src/index.js';
import { memoryServerTransport, type RawPeer, settle, until, welcomedPeers } from './duplex-pair.js';

const servers: SocketServer[] = [];
const peers: RawPeer[] = [];

afterEach(async () => {
  for (const p of peers.splice(0)) p.stream.destroy();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

/**
 * A started server for event `rules` over an in-memory transport (real timers, short graces), stopped after the test.
 */
async function start(opts: Partial<SocketServerOptions>) {
  const transport = memoryServerTransport();
  const server = new SocketServer({
    eventName: 'rules',
    transport,
    logLevel: 'silent',
    registerGraceMs: 1,
    closeGraceMs: 1,
    ...opts,
  });
  await server.start();
  servers.push(server);
  return { server, transport };
}

describe('shared broadcast buffers under mixed traffic', () => {
  it('random ticks of broadcasts, unicasts and replies: every connection gets exactly its own frames, in order', async () => {
    const { server, transport } = await start({ handler: (data) => ({ echo: data.q }) });
    const n = 4;
    const ps = await welcomedPeers(server, transport, n, peers);
    const ids = ps.map((p) => String(p.messages[0]?.data.client_id));
    const expected: unknown[][] = ps.map(() => []);
    let seed = 11;
    const rnd = (k: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    let seq = 0;
    for (let tick = 0; tick < 40; tick++) {
      const ops = 1 + rnd(30);
      for (let o = 0; o < ops; o++) {
        const r = rnd(10);
        const v = seq++;
        const pad = rnd(20) === 0 ? 'p'.repeat(20_000) : 'p'.repeat(rnd(200));
        if (r < 6) {
          server.send({ v, pad });
          for (const e of expected) e.push(v);
        } else {
          const to = rnd(n);
          server.send({ v, pad }, ids[to]);
          expected[to]!.push(v);
        }
      }
      await settle(rnd(3));
    }
    await until(() => ps.every((p, i) => p.messages.length === 1 + expected[i]!.length), 'all read');
    ps.forEach((p, i) => expect(p.messages.slice(1).map((m) => m.data.v)).toEqual(expected[i]));
  });

  it('a peer that stops reading (drop policy) loses frames; the peers that read still get every frame in order', async () => {
    const { server, transport } = await start({ maxPendingBytes: 64 * 1024, slowConsumerPolicy: 'drop' });
    const readers = [transport.connect(), transport.connect()];
    const stalled = transport.connect(false);
    peers.push(...readers, stalled);
    for (const p of [...readers, stalled]) p.hello();
    await until(
      () => server.getConnectedClients().length === 3 && readers.every((p) => p.messages.length === 1),
      'welcomed',
    );
    for (let tick = 0; tick < 20; tick++) {
      for (let i = 0; i < 50; i++) server.send({ v: tick * 50 + i, pad: 'q'.repeat(300) });
      await settle(1);
    }
    await until(() => readers.every((p) => p.messages.length === 1001), 'readers got all');
    for (const p of readers)
      expect(p.messages.slice(1).map((m) => m.data.v)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    stalled.read();
    await settle(50);
    const got = stalled.messages.slice(1).map((m) => m.data.v as number);
    expect(got.length).toBeLessThan(1000);
    expect([...got].sort((a, b) => a - b)).toEqual(got);
  });
});

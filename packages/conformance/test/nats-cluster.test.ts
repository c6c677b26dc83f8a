// @socketkit/nats across machines: a real two-node NATS cluster (routes), and
// a NATS server restarted mid-stream.
import { describe, expect, it } from '@jest/globals';
import { NatsSocketClient, NatsSocketServer } from '@socketkit/nats';
import { ErrorCode } from '@socketkit/protocol';
import { onCleanup, startNatsServer, uniqueEvent, until } from '../src/index.js';

const quiet = { logLevel: 'silent' as const, envFile: false as const };

/** Connects, retrying while the cluster's interest graph settles (bounded). */
async function connectAcross(client: NatsSocketClient): Promise<void> {
  const deadline = Date.now() + 10000;
  for (;;) {
    try {
      await client.connect({ waitForWelcome: true });
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== ErrorCode.SERVER_NOT_RUNNING || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('NATS cluster', () => {
  it('a server on node A and clients on node B exchange broadcast, unicast and request/reply', async () => {
    const a = await startNatsServer({ cluster: true });
    onCleanup(() => a.stop());
    const b = await startNatsServer({ routes: [`nats-route://127.0.0.1:${a.clusterPort}`] });
    onCleanup(() => b.stop());
    const eventName = uniqueEvent('cluster');
    const server = new NatsSocketServer({
      eventName,
      ...quiet,
      servers: a.url,
      handler: (d) => ({ node: 'A', echo: d.q }),
    });
    onCleanup(() => server.stop());
    await server.start();
    const c1 = new NatsSocketClient({ eventName, ...quiet, servers: b.url });
    const c2 = new NatsSocketClient({ eventName, ...quiet, servers: b.url });
    onCleanup(() => c1.disconnect());
    onCleanup(() => c2.disconnect());
    await connectAcross(c1);
    await connectAcross(c2);
    expect(server.getConnectedClients()).toHaveLength(2);
    for (let i = 0; i < 100; i++) expect(server.send({ i })).toBe(2);
    for (const c of [c1, c2]) for (let i = 0; i < 100; i++) expect((await c.receive()).data).toEqual({ i });
    expect(server.send({ only: 'c2' }, c2.welcome?.clientId)).toBe(1);
    expect((await c2.receive()).data).toEqual({ only: 'c2' });
    await expect(c1.receive({ timeout: 200 })).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    expect((await c1.request({ q: 'hi' })).data).toEqual({ node: 'A', echo: 'hi' });
    const got = new Promise((resolve) => server.once('message', (m, id) => resolve([m.data, id])));
    await c2.send({ from: 'B' });
    expect(await got).toEqual([{ from: 'B' }, c2.welcome?.clientId]);
  });
});

describe('NATS server restart mid-stream', () => {
  it(
    'clients and server reconnect and keep working; nothing is duplicated or reordered, only messages sent during ' +
      'the outage may be lost',
    async () => {
      const n = await startNatsServer();
      onCleanup(() => n.stop());
      const eventName = uniqueEvent('restart');
      const fast = { heartbeatInterval: 200, heartbeatTimeout: 3000 };
      const server = new NatsSocketServer({
        eventName,
        ...quiet,
        servers: n.url,
        ...fast,
        handler: (d) => ({ ok: d.k }),
      });
      onCleanup(() => server.stop());
      await server.start();
      const client = new NatsSocketClient({
        eventName,
        ...quiet,
        servers: n.url,
        ...fast,
        reconnect: { initialDelay: 50, maxDelay: 500 },
      });
      onCleanup(() => client.disconnect());
      await client.connect({ waitForWelcome: true });
      const seen: number[] = [];
      client.on('message', (m) => seen.push(m.data.seq as number));
      let seq = 0;
      const sendSome = (k: number): void => {
        for (let i = 0; i < k; i++) server.send({ seq: seq++ });
      };
      sendSome(50);
      await until(() => seen.length === 50, 'first 50 before the restart');
      await n.stop();
      sendSome(20); // during the outage: may be lost (NATS core is at-most-once)
      const restarted = await startNatsServer({ port: n.port });
      onCleanup(() => restarted.stop());
      // keep sending until the client sees traffic again
      const before = seen.length;
      await until(
        () => {
          if (server.getConnectedClients().length > 0) sendSome(1);
          return seen.length > before + 20;
        },
        'traffic after the NATS restart',
        20000,
      );
      // strictly increasing: no duplicates, no reordering
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1] as number);
      expect(seen.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      // both directions and request/reply work again
      expect((await client.request({ k: 7 }, { timeout: 5000 })).data).toEqual({ ok: 7 });
      const up = new Promise((resolve) => server.once('message', (m) => resolve(m.data)));
      await client.send({ back: true });
      expect(await up).toEqual({ back: true });
    },
  );
});

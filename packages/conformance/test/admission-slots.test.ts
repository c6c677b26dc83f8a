// Issue 22 item 9, on every transport: a peer holds a client slot only once
// it is registered. Peers still waiting (no hello yet: a silent socket, a
// fake NATS stream open) fall under the pre-admission bound,
// `maxUnauthenticated`, with eviction of the oldest (ADMISSION_FULL), so a
// steady flood of them never keeps a client out of `maxConnections`.
import { expect, it } from '@jest/globals';
import type { TransportStream } from '@socketkit/core';
import { NatsClientTransport } from '@socketkit/nats';
import { describeTransports, onCleanup, until, type TransportFactory } from '../src/harness.js';
import type { SocketServer } from '@socketkit/core';

/** Opens one connection to `server` that never says anything (on NATS: a stream open and nothing after it). */
function silentOpener(t: TransportFactory, server: SocketServer): () => Promise<TransportStream> {
  if (t.name !== 'nats') return () => t.raw(server) as unknown as Promise<TransportStream>;
  const transport = new NatsClientTransport({ eventName: server.eventName, servers: t.addr(server).servers as string });
  onCleanup(() => transport.close());
  const streams: TransportStream[] = [];
  onCleanup(() => {
    for (const s of streams) s.destroy();
  });
  return async () => {
    const s = await transport.connect(new AbortController().signal);
    s.on('error', () => undefined);
    s.resume();
    streams.push(s);
    return s;
  };
}

describeTransports('a client slot only once registered (issue 22 item 9)', (t) => {
  it('a steady flood of connections that never say hello keeps none of 3 clients out of maxConnections 3', async () => {
    // unix and tcp register a silent peer after registerGraceMs (it may be a
    // Python client): long here, so the flood stays unregistered; NATS
    // requires hello within authTimeout (also long here).
    // (exposeStats off: a full unix server would otherwise keep up to maxMonitors silent peers to see whether they are
    // monitors)
    const server = t.server({
      maxConnections: 3,
      maxUnauthenticated: 8,
      registerGraceMs: 60_000,
      authTimeout: 60_000,
      exposeStats: false,
    });
    await server.start();
    const open = silentOpener(t, server);
    for (let i = 0; i < 20; i++) await open();
    let flooding = true;
    let opened = 20;
    const flood = (async () => {
      while (flooding) {
        await open();
        opened++;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const c = t.client(server, { reconnect: { maxRetries: 10 } });
      outcomes.push(
        await c.connect({ waitForWelcome: true, timeout: 8000 }).then(
          () => 'welcomed',
          (e: { code?: string }) => String(e.code),
        ),
      );
    }
    flooding = false;
    await flood;
    expect(outcomes).toEqual(['welcomed', 'welcomed', 'welcomed']);
    await until(() => server.getConnectedClients().length === 3, '3 clients');
    // Every silent connection is still waiting (at most 8 now that no slot is
    // free), was evicted (ADMISSION_FULL) or, once the server was full, refused at accept (MAX_CONNECTIONS).
    const refused = (): number =>
      (server.stats().refused.ADMISSION_FULL ?? 0) + (server.stats().refused.MAX_CONNECTIONS ?? 0);
    await until(() => server.connectionCounts.awaiting + refused() >= opened, 'every silent connection accepted');
    expect(server.connectionCounts.awaiting).toBeLessThanOrEqual(8);
    expect(server.stats().refused.ADMISSION_FULL ?? 0).toBeGreaterThanOrEqual(20 - 8);
    expect(opened).toBeGreaterThanOrEqual(20);
  });
});

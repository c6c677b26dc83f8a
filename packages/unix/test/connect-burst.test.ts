// A full Unix listen backlog is transient (issue 12 item 1): EAGAIN under a
// burst of connects is retried within the connect timeout, so every client gets in.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { UnixSocketClient, UnixSocketServer } from '../src/index.js';

const CLIENTS = 1000;
const BURST = Number(process.env.BURST ?? 500);

describe('unix connect burst', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void> | void)();
  });

  it(`connects ${CLIENTS} clients arriving in bursts of ${BURST} (a full listen backlog answers EAGAIN)`, async () => {
    const socketDir = mkdtempSync(join(tmpdir(), 'skburst-'));
    cleanups.push(() => rmSync(socketDir, { recursive: true, force: true }));
    const server = new UnixSocketServer({
      eventName: 'burst',
      socketDir,
      maxConnections: CLIENTS,
      logLevel: 'silent',
      envFile: false,
    });
    await server.start();
    cleanups.push(() => server.stop());
    const clients: UnixSocketClient[] = [];
    cleanups.push(async () => {
      await Promise.all(clients.map((c) => c.disconnect()));
    });
    const failures: string[] = [];
    for (let i = 0; i < CLIENTS; i += BURST) {
      const burst = Array.from({ length: Math.min(BURST, CLIENTS - i) }, () => {
        const c = new UnixSocketClient({
          eventName: 'burst',
          socketDir,
          logLevel: 'silent',
          envFile: false,
          autoReconnect: false,
          handshake: false,
          connectTimeout: 15000,
        });
        clients.push(c);
        return c.connect().catch((e: Error & { code?: string }) => {
          failures.push(`${e.code}: ${e.message}`);
        });
      });
      await Promise.all(burst);
    }
    expect(failures.slice(0, 3)).toEqual([]);
    expect(clients.filter((c) => c.isConnected())).toHaveLength(CLIENTS);
  }, 60000);
});

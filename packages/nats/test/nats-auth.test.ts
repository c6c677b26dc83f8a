import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ConnectionError, ErrorCode } from '@socketkit/protocol';
import { NatsSocketClient, NatsSocketServer } from '../src/index.js';
import { type Broker, binary, startBroker } from './helpers.js';

/**
 * The socketkit token does not protect NATS subjects (anyone allowed on the
 * broker can subscribe to `socketkit.<event>.all`): protect an event with
 * NATS's own accounts and subject permissions, passed through `natsOptions`.
 */
const ORDERS = { user: 'orders-app', pass: 'orders-password-123' };
const JOBS = { user: 'jobs-app', pass: 'jobs-password-456' };
const config =
  `
authorization {
  users = [
    { user: "${ORDERS.user}", password: "${ORDERS.pass}", permissions: { publish: ` +
  `["socketkit.orders.>", "_INBOX.>"], subscribe: ["socketkit.orders.>", "_INBOX.>"] } }
    { user: "${JOBS.user}", password: "${JOBS.pass}",
      permissions: { publish: ["socketkit.jobs.>", "_INBOX.>"], subscribe: ["socketkit.jobs.>", "_INBOX.>"] } }
  ]
}
`;

let broker: Broker | undefined;
let url = '';

beforeAll(async () => {
  if (binary === undefined) return;
  broker = await startBroker(config);
  url = broker.url;
});
afterAll(async () => {
  await broker?.stop();
});

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
const quiet = { logLevel: 'silent' as const, envFile: false as const };
const creds = (u: { user: string; pass: string }) => ({
  natsOptions: { user: u.user, pass: u.pass, maxReconnectAttempts: 0 },
});

(binary !== undefined ? describe : describe.skip)(
  'NATS: protect an event with NATS user/password and subject permissions',
  () => {
    it('with the event’s credentials, server and client talk as usual', async () => {
      const s = new NatsSocketServer({
        eventName: 'orders',
        ...quiet,
        servers: url,
        ...creds(ORDERS),
        handler: (d) => ({ echo: d }),
      });
      cleanups.push(() => s.stop());
      await s.start();
      const c = new NatsSocketClient({
        eventName: 'orders',
        ...quiet,
        servers: url,
        autoReconnect: false,
        ...creds(ORDERS),
      });
      cleanups.push(() => c.disconnect());
      await c.connect({ waitForWelcome: true });
      expect((await c.request({ n: 1 })).data).toEqual({ echo: { n: 1 } });
    });

    it('without credentials NATS refuses the connection: UNAUTHORIZED saying to pass natsOptions', async () => {
      const c = new NatsSocketClient({
        eventName: 'orders',
        ...quiet,
        servers: url,
        autoReconnect: false,
        natsOptions: { maxReconnectAttempts: 0 },
      });
      cleanups.push(() => c.disconnect());
      const err = (await c.connect({ timeout: 3000 }).catch((e: unknown) => e)) as ConnectionError;
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err.code).toBe(ErrorCode.UNAUTHORIZED);
      expect(err.message).toContain('natsOptions');
      const wrong = new NatsSocketClient({
        eventName: 'orders',
        ...quiet,
        servers: url,
        autoReconnect: false,
        natsOptions: { user: ORDERS.user, pass: 'guess', maxReconnectAttempts: 0 },
      });
      cleanups.push(() => wrong.disconnect());
      expect(((await wrong.connect({ timeout: 3000 }).catch((e: unknown) => e)) as ConnectionError).code).toBe(
        ErrorCode.UNAUTHORIZED,
      );
    });

    it('a user allowed only on another event’s subjects never reaches the server nor its broadcasts', async () => {
      const s = new NatsSocketServer({ eventName: 'orders', ...quiet, servers: url, ...creds(ORDERS) });
      cleanups.push(() => s.stop());
      await s.start();
      s.send({ secret: 'queued for orders clients only' });
      const intruder = new NatsSocketClient({
        eventName: 'orders',
        ...quiet,
        servers: url,
        autoReconnect: false,
        ...creds(JOBS),
      });
      cleanups.push(() => intruder.disconnect());
      const err = await intruder.connect({ waitForWelcome: true, timeout: 2000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(s.getConnectedClients()).toEqual([]);
      expect(s.queuedMessages).toBe(1);
    });
  },
);

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { connect, type Msg } from '@nats-io/transport-node';
import { encodeFrame } from '@socketkit/codec';
import { ErrorCode, MessageType, createMessage } from '@socketkit/protocol';
import { fetchStats } from '@socketkit/core';
import { NatsClientTransport, NatsSocketClient, NatsSocketServer } from '../src/index.js';
import { type Broker, binary, startBroker, useBrokerAndForger } from './helpers.js';

/**
 * Issue 22 items 1 and 2: a token session over NATS against a hostile NATS
 * publisher (anyone the broker lets publish on the event's subjects), with
 * real nats-server processes.
 */
const TOKEN = 'a-nats-token-of-32-random-bytes-0123456789';
const quiet = { logLevel: 'silent' as const, envFile: false as const };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** Rounds of 10 token clients welcomed under broadcasts. */
const WELCOME_ROUNDS = 5;

/** Forged publishes of each kind per test. */
const ROUNDS = 100;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `check()` is true (polled), or rejects after `ms`. */
async function until(check: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** A socketkit frame as a forger builds it (it has the codec, not the token). */
function forged(type: MessageType, data: Record<string, unknown>, event: string): Uint8Array {
  return encodeFrame(createMessage(event, type, data));
}

/** A forged library refusal (`UNAUTHORIZED` from "socketkit") saying `error`. */
function forgedRefusal(event: string, error = 'forged refusal'): Uint8Array {
  return forged(MessageType.ERROR, { code: ErrorCode.UNAUTHORIZED, error, origin: 'socketkit' }, event);
}

/** What one client saw: application messages, disconnects, a final close. */
interface Watched {
  client: NatsSocketClient;
  got: unknown[];
  disconnects: number;
  closed: boolean;
  errors: Array<{ code: unknown }>;
}

function watch(client: NatsSocketClient): Watched {
  const w: Watched = { client, got: [], disconnects: 0, closed: false, errors: [] };
  client.on('message', (m) => w.got.push(m.data));
  client.on('disconnected', () => w.disconnects++);
  client.on('close', () => {
    w.closed = true;
  });
  client.on('error', (e) => w.errors.push({ code: (e as { code?: unknown }).code }));
  return w;
}

(binary !== undefined ? describe : describe.skip)(
  'NATS with a token: broadcasts never make a token client refuse its server (issue 22 item 1)',
  () => {
    let broker: Broker;
    beforeAll(async () => {
      broker = await startBroker();
    });
    afterAll(async () => {
      await broker?.stop();
    });

    it('10 of 10 token clients are welcomed while the server broadcasts every 2 ms (5 rounds: 50 of 50)', async () => {
      const event = 'busy';
      const server = new NatsSocketServer({
        eventName: event,
        ...quiet,
        servers: broker.url,
        token: TOKEN,
        maxConnections: 20,
      });
      cleanups.push(() => server.stop());
      await server.start();
      // One client first, so the server's broadcasts go out on the broadcast subject (with none registered they are
      // queued).
      const first = new NatsSocketClient({
        eventName: event,
        ...quiet,
        servers: broker.url,
        token: TOKEN,
        autoReconnect: false,
      });
      cleanups.push(() => first.disconnect());
      await first.connect({ waitForWelcome: true, timeout: 5000 });
      let n = 0;
      const timer = setInterval(() => server.send({ tick: n++ }), 2);
      cleanups.push(() => clearInterval(timer));
      await until(() => n > 20, 5000, 'broadcasts');
      // Rounds of 10 clients connecting at once while the broadcasts go on (before the fix: 0 of 10 welcomed).
      let welcomed = 0;
      const refused: string[] = [];
      let last: NatsSocketClient[] = [];
      for (let round = 0; round < WELCOME_ROUNDS; round++) {
        for (const c of last) await c.disconnect();
        last = Array.from(
          { length: 10 },
          () =>
            new NatsSocketClient({
              eventName: event,
              ...quiet,
              servers: broker.url,
              token: TOKEN,
              autoReconnect: false,
            }),
        );
        for (const c of last) cleanups.push(() => c.disconnect());
        const outcomes = await Promise.all(
          last.map((c) =>
            c.connect({ waitForWelcome: true, timeout: 5000 }).then(
              () => 'welcomed',
              (e: unknown) => String((e as { code?: string }).code),
            ),
          ),
        );
        welcomed += outcomes.filter((o) => o === 'welcomed').length;
        refused.push(...outcomes.filter((o) => o !== 'welcomed'));
      }
      expect({ welcomed, refused }).toEqual({ welcomed: 10 * WELCOME_ROUNDS, refused: [] });
      // and they receive the broadcasts that follow, in order
      const w = watch(last[0] as NatsSocketClient);
      await until(() => w.got.length > 5, 5000, 'broadcasts after the welcome');
      const ticks = w.got.map((d) => (d as { tick: number }).tick);
      expect(ticks).toEqual([...ticks].sort((a, b) => a - b));
    }, 60_000);
  },
);

(binary !== undefined ? describe : describe.skip)('NATS publishers cannot forge (issue 22 item 2)', () => {
  const nats = useBrokerAndForger();

  /** A token server with `count` welcomed token clients on `event`. */
  async function tokenSession(event: string, count: number, token: string | undefined = TOKEN) {
    const server = new NatsSocketServer({
      eventName: event,
      ...quiet,
      servers: nats.broker.url,
      ...(token !== undefined ? { token } : {}),
    });
    const fromClients: unknown[] = [];
    server.on('message', (m) => fromClients.push(m.data));
    cleanups.push(() => server.stop());
    await server.start();
    const watched: Watched[] = [];
    for (let i = 0; i < count; i++) {
      const c = new NatsSocketClient({
        eventName: event,
        ...quiet,
        servers: nats.broker.url,
        ...(token !== undefined ? { token } : {}),
      });
      cleanups.push(() => c.disconnect());
      const w = watch(c);
      await c.connect({ waitForWelcome: true, timeout: 5000 });
      watched.push(w);
    }
    return { server, watched, fromClients };
  }

  /** Every client got exactly `expected` (in order), never disconnected and is still open. */
  function expectUntouched(watched: Watched[], expected: unknown[]): void {
    for (const w of watched) {
      expect({ got: w.got, disconnects: w.disconnects, closed: w.closed, state: w.client.state }).toEqual({
        got: expected,
        disconnects: 0,
        closed: false,
        state: 'open',
      });
    }
  }

  it('token clients take no forged DATA, no zero-length frame, no forged UNAUTHORIZED and no replayed batch from the ' +
    'broadcast subject', async () => {
    const event = 'forge1';
    const { server, watched } = await tokenSession(event, 3);
    const all = `socketkit.${event}.all`;
    // The forger records a real broadcast (with whatever it carries) to replay it later.
    const recorded: Msg[] = [];
    const spy = nats.forger.subscribe(all, { callback: (_e, m) => void recorded.push(m) });
    await nats.forger.flush();
    server.send({ legit: 1 });
    await until(() => watched.every((w) => w.got.length === 1) && recorded.length === 1, 5000, 'the first broadcast');
    spy.unsubscribe();

    const replay = recorded[0] as Msg;
    // ROUNDS of each kind: forged DATA, a zero-length frame ("end of stream" to the framing), a forged
    // library UNAUTHORIZED, and the replay of a real (authenticated) batch.
    for (let i = 0; i < ROUNDS; i++) {
      nats.forger.publish(all, forged(MessageType.DATA, { forged: 'data', i }, event));
      nats.forger.publish(all, new Uint8Array(4));
      nats.forger.publish(all, forgedRefusal(event));
      nats.forger.publish(all, replay.data, replay.headers !== undefined ? { headers: replay.headers } : {});
    }
    await nats.forger.flush();
    server.send({ legit: 2 });
    await until(() => watched.every((w) => w.got.length >= 2 || w.closed), 5000, 'the second broadcast');
    await sleep(100);
    expectUntouched(watched, [{ legit: 1 }, { legit: 2 }]);
    // Reported with a code, rate-limited (not one 'error' per forged publish).
    for (const w of watched) {
      expect(w.errors.map((e) => e.code)).toContain(ErrorCode.UNAUTHENTICATED_FRAME);
      expect(w.errors.length).toBeLessThanOrEqual(20); // one per second and code, not one per forged publish (400)
    }
  }, 30_000);

  it('token clients take no forged frame on their own stream subject, and the server none on a client’s', async () => {
    const event = 'forge2';
    const { server, watched, fromClients } = await tokenSession(event, 3);
    // The forger learns the stream ids by listening (anyone allowed to subscribe on the event can).
    // It also records what the peers publish, to replay it.
    const ids = new Set<string>();
    const recorded: Msg[] = [];
    const spy = nats.forger.subscribe(`socketkit.${event}.s.*`, {
      callback: (_e, m) => {
        ids.add(m.subject.split('.').pop() as string);
        recorded.push(m);
      },
    });
    const spyC = nats.forger.subscribe(`socketkit.${event}.c.*`, { callback: (_e, m) => void recorded.push(m) });
    await nats.forger.flush();
    for (const w of watched) await w.client.send({ hello: 'server' });
    server.send({ unicast: 'before' }, (watched[0] as Watched).client.welcome?.clientId);
    await until(
      () => ids.size === 3 && fromClients.length === 3 && (watched[0] as Watched).got.length === 1,
      5000,
      'the stream ids',
    );
    spy.unsubscribe();
    spyC.unsubscribe();
    for (const m of recorded)
      nats.forger.publish(m.subject, m.data, m.headers !== undefined ? { headers: m.headers } : {});
    for (let i = 0; i < ROUNDS; i++) {
      for (const id of ids) {
        nats.forger.publish(`socketkit.${event}.c.${id}`, forged(MessageType.DATA, { forged: 'unicast', i }, event));
        nats.forger.publish(
          `socketkit.${event}.s.${id}`,
          forged(MessageType.DATA, { forged: 'as a client', i }, event),
        );
      }
    }
    for (const id of ids) {
      nats.forger.publish(`socketkit.${event}.c.${id}`, forged(MessageType.DATA, { forged: 'unicast' }, event));
      nats.forger.publish(`socketkit.${event}.c.${id}`, forgedRefusal(event, 'forged'));
      nats.forger.publish(`socketkit.${event}.s.${id}`, forged(MessageType.DATA, { forged: 'as a client' }, event));
      nats.forger.publish(`socketkit.${event}.c.${id}`, new Uint8Array(0)); // FIN
      nats.forger.publish(`socketkit.${event}.s.${id}`, new Uint8Array(0)); // FIN
    }
    await nats.forger.flush();
    server.send({ legit: 1 });
    for (const w of watched) await w.client.send({ after: 'forgery' });
    await until(
      () => watched.every((w) => w.got.length >= 1 || w.closed) && fromClients.length >= 6,
      5000,
      'the legit traffic',
    );
    await sleep(100);
    expectUntouched(watched.slice(1), [{ legit: 1 }]);
    expectUntouched(watched.slice(0, 1), [{ unicast: 'before' }, { legit: 1 }]);
    expect(fromClients.filter((d) => (d as { forged?: string }).forged !== undefined)).toEqual([]);
    expect(fromClients.length).toBe(6); // nothing replayed
    expect(server.getConnectedClients().length).toBe(3);
  }, 30_000);

  it('a monitor with the token gets the stats of a token server over NATS (its exchange is authenticated ' +
    'too)', async () => {
    const event = 'forge-monitor';
    const server = new NatsSocketServer({
      eventName: event,
      ...quiet,
      servers: nats.broker.url,
      token: TOKEN,
      exposeStats: true,
    });
    cleanups.push(() => server.stop());
    await server.start();
    const transport = new NatsClientTransport({ eventName: event, servers: nats.broker.url });
    cleanups.push(() => transport.close());
    const stats = await fetchStats(transport, event, { token: TOKEN, timeoutMs: 5000 });
    expect(stats).toMatchObject({ event, clients: [] });
  }, 30_000);

  it('without a token: a zero-length frame or a forged library ERROR on the broadcast subject ends no stream and ' +
    'closes no client', async () => {
    const event = 'forge3';
    const { server, watched } = await tokenSession(event, 3, undefined);
    const all = `socketkit.${event}.all`;
    for (let i = 0; i < ROUNDS; i++) {
      nats.forger.publish(all, new Uint8Array(4));
      nats.forger.publish(all, forgedRefusal(event));
      // the same two hidden in a batch behind a valid frame
      const cover = forged(MessageType.DATA, { forged: 'cover' }, event);
      nats.forger.publish(all, Buffer.concat([cover, new Uint8Array(4)]));
      nats.forger.publish(all, Buffer.concat([cover, forgedRefusal(event, 'x')]));
    }
    await nats.forger.flush();
    server.send({ legit: 1 });
    await until(() => watched.every((w) => w.got.length >= 1 || w.closed), 5000, 'the broadcast');
    await sleep(100);
    // Forged DATA is not kept out without a token (subject permissions are the protection); these are.
    expectUntouched(watched, [{ legit: 1 }]);
  }, 30_000);
});

const SERVER_USER = { user: 'perm-server', pass: 'server-password-123' };
const CLIENT_USER = { user: 'perm-client', pass: 'client-password-456' };
const ADMIN_USER = { user: 'perm-admin', pass: 'admin-password-789' };
/**
 * The permissions the package README recommends: clients publish only on their own subjects (requests to the server).
 */
const permissions = `
authorization {
  users = [
    { user: "${SERVER_USER.user}", password: "${SERVER_USER.pass}", permissions: {
        publish: ["socketkit.perm.connect", "socketkit.perm.all", "socketkit.perm.c.*", "_INBOX.>"],
        subscribe: ["socketkit.perm.connect", "socketkit.perm.s.*", "_INBOX.>"] } }
    { user: "${CLIENT_USER.user}", password: "${CLIENT_USER.pass}", permissions: {
        publish: ["socketkit.perm.connect", "socketkit.perm.s.*"],
        subscribe: ["socketkit.perm.all", "socketkit.perm.c.*", "_INBOX.>"] } }
    { user: "${ADMIN_USER.user}", password: "${ADMIN_USER.pass}" }
  ]
}
`;

(binary !== undefined ? describe : describe.skip)(
  'NATS subject permissions: clients publish only on their own subjects (issue 22 item 2)',
  () => {
    let broker: Broker;
    beforeAll(async () => {
      broker = await startBroker(permissions);
    });
    afterAll(async () => {
      await broker?.stop();
    });

    it('socketkit works under the documented permissions, and a client user cannot publish on the broadcast ' +
      'subject', async () => {
      const creds = (u: { user: string; pass: string }) => ({
        natsOptions: { user: u.user, pass: u.pass, maxReconnectAttempts: 0 },
      });
      const server = new NatsSocketServer({
        eventName: 'perm',
        ...quiet,
        servers: broker.url,
        token: TOKEN,
        ...creds(SERVER_USER),
        handler: (d) => ({ echo: d }),
      });
      cleanups.push(() => server.stop());
      await server.start();
      const c = new NatsSocketClient({
        eventName: 'perm',
        ...quiet,
        servers: broker.url,
        token: TOKEN,
        autoReconnect: false,
        ...creds(CLIENT_USER),
      });
      cleanups.push(() => c.disconnect());
      const w = watch(c);
      await c.connect({ waitForWelcome: true, timeout: 5000 });
      expect((await c.request({ n: 1 })).data).toEqual({ echo: { n: 1 } });
      server.send({ legit: 1 });
      await until(() => w.got.length === 1, 5000, 'the broadcast');

      // An admin sees what reaches the broadcast subject.
      const admin = await connect({ servers: broker.url, ...ADMIN_USER });
      cleanups.push(() => admin.close());
      const seen: string[] = [];
      admin.subscribe('socketkit.perm.all', {
        callback: (_e, m) => void seen.push(m.headers === undefined ? 'bare' : 'with-headers'),
      });
      await admin.flush();
      // A client user tries to publish on the broadcast subject and on another client's stream subject.
      const intruder = await connect({ servers: broker.url, ...CLIENT_USER });
      cleanups.push(() => intruder.close());
      const violations: string[] = [];
      void (async () => {
        for await (const s of intruder.status())
          if (s.type === 'error') violations.push(String((s as { error?: Error }).error?.message));
      })();
      intruder.publish('socketkit.perm.all', forged(MessageType.DATA, { forged: 1 }, 'perm'));
      intruder.publish('socketkit.perm.c.someone', forged(MessageType.DATA, { forged: 2 }, 'perm'));
      await intruder.flush();
      admin.publish('socketkit.perm.probe', new Uint8Array(0)); // control: the admin's own publishes do go through
      await until(() => violations.length >= 2, 5000, 'the permission violations');
      server.send({ legit: 2 });
      await until(() => w.got.length === 2 && seen.length === 1, 5000, 'the second broadcast');
      expect(seen).toEqual(['with-headers']); // only the server's (authenticated) broadcast reached the subject
      expect(violations.join('\n')).toMatch(/Permissions Violation for Publish to "socketkit\.perm\.all"/);
      expect(w.got).toEqual([{ legit: 1 }, { legit: 2 }]);
    }, 30_000);
  },
);

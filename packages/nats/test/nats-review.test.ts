import { afterEach, describe, expect, it } from '@jest/globals';
import { connect, headers } from '@nats-io/transport-node';
import { encodeFrame } from '@socketkit/codec';
import { MessageType, createMessage } from '@socketkit/protocol';
import { NatsSocketClient, NatsSocketServer } from '../src/index.js';
import { authValue, streamKeys } from '../src/frame-auth.js';
import { MAX_HELD_BROADCAST_BYTES, NatsStream } from '../src/nats-stream.js';
import { binary, useBrokerAndForger } from './helpers.js';

/**
 * Review of issue 22 (NATS message authentication) with a hostile NATS
 * publisher, on a real nats-server.
 */
const TOKEN = 'a-nats-token-of-32-random-bytes-0123456789';
const quiet = { logLevel: 'silent' as const, envFile: false as const };

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

/** An `Sk-Auth` value that claims the largest seq, with a tag that verifies under no key. */
const HUGE_SEQ_AUTH = `${2 ** 48 - 1}.${'A'.repeat(22)}`;

const title = 'NATS token sessions against a hostile publisher (review of issue 22)';
(binary !== undefined ? describe : describe.skip)(
  binary !== undefined ? title : `${title} [skipped: no nats-server binary]`,
  () => {
    const nats = useBrokerAndForger();
    /** A token client of `event` on the broker, without reconnects, its errors ignored (the forger causes some). */
    const tokenClient = (event: string): NatsSocketClient => {
      const c = new NatsSocketClient({
        eventName: event,
        ...quiet,
        servers: nats.broker.url,
        token: TOKEN,
        autoReconnect: false,
      });
      c.on('error', () => undefined);
      return c;
    };

    it("a seq claimed on s.<id> before the client's proof does not make the server drop the client's messages (10 of " +
      '10 delivered)', async () => {
      const event = 'review-seq';
      const server = new NatsSocketServer({ eventName: event, ...quiet, servers: nats.broker.url, token: TOKEN });
      const got: unknown[] = [];
      server.on('message', (m) => got.push(m.data));
      cleanups.push(() => server.stop());
      await server.start();
      // The forger (a client user: subscribe on c.*, publish on s.*) answers every server message it sees on
      // a stream subject with a harmless PING claiming the largest seq, on that stream's s.<id>.
      const poisoned = new Set<string>();
      const ping = encodeFrame(createMessage(event, MessageType.CONTROL, { op: 'ping' }));
      nats.forger.subscribe(`socketkit.${event}.c.*`, {
        callback: (_e, m) => {
          const id = m.subject.split('.').pop() as string;
          if (poisoned.has(id)) return;
          poisoned.add(id);
          const h = headers();
          h.set('Sk-Auth', HUGE_SEQ_AUTH);
          nats.forger.publish(`socketkit.${event}.s.${id}`, ping, { headers: h });
        },
      });
      await nats.forger.flush();
      const ROUNDS = 10;
      let delivered = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const c = tokenClient(event);
        await c.connect({ waitForWelcome: true, timeout: 5000 });
        await c.send({ round: i });
        if (await until(() => got.length > delivered, 1000)) delivered++;
        await c.disconnect();
      }
      expect(poisoned.size).toBeGreaterThanOrEqual(ROUNDS);
      expect(delivered).toBe(ROUNDS);
    }, 60_000);

    it("a publisher on c.<id> cannot complete a token client's handshake with a forged welcome nor inject data " +
      'before ' +
      'the real one (0 of 10)', async () => {
      const event = 'review-welcome';
      const server = new NatsSocketServer({ eventName: event, ...quiet, servers: nats.broker.url, token: TOKEN });
      cleanups.push(() => server.stop());
      await server.start();
      // The forger sees each auth_challenge on c.<id> and at once publishes a bare welcome and a DATA frame there:
      // they arrive while the client computes its proof, before the server's (authenticated) welcome.
      const seen = new Set<string>();
      const sub = nats.forger.subscribe(`socketkit.${event}.c.*`, {
        callback: (_e, m) => {
          if (seen.has(m.subject)) return;
          seen.add(m.subject);
          const welcome = {
            op: 'welcome',
            protocol: 3,
            event,
            client_id: 'forged',
            allow_client_send: true,
            max_message_size: 1_000_000,
          };
          const w = encodeFrame(createMessage(event, MessageType.CONTROL, welcome));
          const d = encodeFrame(createMessage(event, MessageType.DATA, { forged: true }));
          nats.forger.publish(m.subject, Buffer.concat([w, d]));
        },
      });
      cleanups.push(() => sub.unsubscribe());
      await nats.forger.flush();
      const ROUNDS = 10;
      let forgedData = 0;
      let forgedWelcome = 0;
      let welcomed = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const c = tokenClient(event);
        c.on('message', (m) => {
          if ((m.data as { forged?: boolean }).forged === true) forgedData++;
        });
        await c.connect({ waitForWelcome: true, timeout: 5000 });
        if (c.welcome?.clientId === 'forged') forgedWelcome++;
        else welcomed++;
        await sleep(50);
        await c.disconnect();
      }
      expect(seen.size).toBeGreaterThanOrEqual(ROUNDS);
      expect({ forgedWelcome, forgedData, welcomed }).toEqual({ forgedWelcome: 0, forgedData: 0, welcomed: ROUNDS });
    }, 60_000);

    it(
      'held broadcasts before the welcome are bounded in memory, not only in payload bytes (200,000 five-byte ' +
        'publishes)',
      async () => {
        const nc = await connect({ servers: nats.broker.url, name: 'held' });
        cleanups.push(() => nc.close());
        let rejected = 0;
        const stream = new NatsStream(nc, 'socketkit.review-held.s.x', () => undefined, false, true, {
          role: 'client',
          expectAuth: true,
          onReject: () => {
            rejected++;
          },
        });
        cleanups.push(() => stream.destroy());
        const frame = Buffer.from([0, 0, 0, 1, 0xc0]);
        const h = headers();
        h.set('Sk-Auth', `1.${'A'.repeat(22)}`);
        const N = 200_000;
        for (let i = 0; i < N; i++) stream.deliverBroadcast(frame, h);
        // 200,000 entries of 5 bytes are 1 MB of payload but hundreds of bytes each of heap: the bound must count an
        // entry's cost.
        expect(N * frame.length).toBeLessThan(MAX_HELD_BROADCAST_BYTES);
        expect(N - rejected).toBeLessThanOrEqual(Math.ceil(MAX_HELD_BROADCAST_BYTES / 128));
      },
    );

    it(
      'a token client whose authenticated welcome brings no broadcast key drops and reports its broadcasts instead ' +
        'of holding them for ever',
      async () => {
        const nc = await connect({ servers: nats.broker.url, name: 'nokey' });
        cleanups.push(() => nc.close());
        const reasons: string[] = [];
        const stream = new NatsStream(nc, 'socketkit.review-nokey.s.x', () => undefined, false, true, {
          role: 'client',
          expectAuth: true,
          onReject: (reason) => void reasons.push(reason),
        });
        cleanups.push(() => stream.destroy());
        const got: Buffer[] = [];
        stream.on('data', (b: Buffer) => got.push(b));
        const frame = encodeFrame(createMessage('review-nokey', MessageType.DATA, { b: 1 }));
        const bh = headers();
        bh.set('Sk-Auth', `1.${'A'.repeat(22)}`);
        for (let i = 0; i < 10; i++) stream.deliverBroadcast(frame, bh); // before the welcome: held
        const session = Buffer.alloc(32, 7);
        stream.authenticated(session);
        // the welcome: authenticated under the session's server-to-client key, without Sk-Key
        const welcome = encodeFrame(createMessage('review-nokey', MessageType.CONTROL, { op: 'welcome' }));
        const wh = headers();
        wh.set('Sk-Auth', authValue(streamKeys(session, 'server').out, 1, welcome));
        stream.deliver(welcome, wh);
        for (let i = 0; i < 10; i++) stream.deliverBroadcast(frame, bh); // after it
        await sleep(10);
        expect(got.length).toBe(1); // the welcome only
        expect(reasons.length).toBe(20);
        expect(reasons[0]).toMatch(/no broadcast key/);
      },
    );
  },
);

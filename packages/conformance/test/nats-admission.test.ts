// NATS specifics of issue 11 item 11: every peer must say hello in time; the
// effective maxMessageSize fits the broker's max_payload; a stray publish on
// the event's subjects cannot freeze anyone.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FrameDecoder, encodeFrame } from '@socketkit/codec';
import { connect as natsConnect } from '@nats-io/transport-node';
import {
  NATS_BROADCAST_BATCH,
  NatsClientTransport,
  NatsSocketClient,
  NatsSocketServer,
  subjectsFor,
} from '@socketkit/nats';
import { ErrorCode, MessageType, createMessage } from '@socketkit/protocol';
import { onCleanup, uniqueEvent, until } from '../src/harness.js';
import { startNatsServer, type NatsServerHandle } from '../src/nats-server.js';

const quiet = { logLevel: 'silent' as const, envFile: false as const };
let small: NatsServerHandle;
beforeAll(async () => {
  small = await startNatsServer({ maxPayload: 64 * 1024 });
});
afterAll(async () => {
  await small.stop();
});

function server(opts: object = {}): NatsSocketServer {
  const s = new NatsSocketServer({ eventName: uniqueEvent('na'), ...quiet, servers: small.url, ...opts });
  onCleanup(() => s.stop());
  return s;
}

describe('NATS admission and limits', () => {
  it('a peer that never says hello is closed after authTimeout and never holds a slot', async () => {
    const s = server({ authTimeout: 200, maxConnections: 1 });
    await s.start();
    const transport = new NatsClientTransport({ eventName: s.eventName, servers: small.url });
    onCleanup(() => transport.close());
    const silent = await transport.connect(new AbortController().signal);
    silent.on('error', () => undefined);
    silent.resume();
    let ended = false;
    silent.on('end', () => (ended = true));
    await until(() => ended, 'silent NATS peer ended by the server');
    expect(s.connectionCounts.registered).toBe(0);
    const c = new NatsSocketClient({ eventName: s.eventName, ...quiet, servers: small.url, autoReconnect: false });
    onCleanup(() => c.disconnect());
    await c.connect({ waitForWelcome: true });
    expect(s.getConnectedClients()).toHaveLength(1);
  });

  it(
    'the effective maxMessageSize is max_payload − 4, announced in welcome; larger sends fail with ' +
      'FRAME_TOO_LARGE',
    async () => {
      const s = server();
      await s.start();
      expect(s.settings.maxMessageSize).toBe(64 * 1024 - 4);
      const c = new NatsSocketClient({ eventName: s.eventName, ...quiet, servers: small.url, autoReconnect: false });
      onCleanup(() => c.disconnect());
      await c.connect({ waitForWelcome: true });
      expect(c.welcome?.maxMessageSize).toBe(64 * 1024 - 4);
      expect(() => s.send({ blob: 'x'.repeat(70 * 1024) })).toThrow(
        expect.objectContaining({ code: ErrorCode.FRAME_TOO_LARGE }),
      );
      s.send({ small: 1 });
      expect((await c.receive()).data).toEqual({ small: 1 });
    },
  );

  it('start() fails with INVALID_CONFIG only when a larger maxMessageSize was set explicitly', async () => {
    const s = server({ maxMessageSize: 1024 * 1024 });
    await expect(s.start()).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG });
  });

  it(
    'the broadcasts of one tick go out as NATS messages of at most NATS_BROADCAST_BATCH bytes, whole frames each, in ' +
      'order',
    async () => {
      const s = server();
      await s.start();
      // A registered client, so broadcasts go out instead of into the queue.
      const c = new NatsSocketClient({
        eventName: s.eventName,
        ...quiet,
        servers: small.url,
        autoReconnect: false,
        bufferMessages: false,
      });
      onCleanup(() => c.disconnect());
      await c.connect({ waitForWelcome: true });
      const nc = await natsConnect({ servers: small.url });
      onCleanup(() => nc.close());
      const sizes: number[] = [];
      const got: number[] = [];
      const sub = nc.subscribe(subjectsFor(s.eventName).all, {
        callback: (_err, msg) => {
          sizes.push(msg.data.length);
          for (const m of new FrameDecoder({ maxMessageSize: 1 << 20 }).push(msg.data))
            got.push((m.data as { i: number }).i);
        },
      });
      await nc.flush();
      // 400 broadcasts of ~230 bytes in one tick (~90 KiB), then one frame larger than a batch on its own.
      for (let i = 0; i < 400; i++) s.send({ i, pad: 'x'.repeat(150) });
      s.send({ i: 400, pad: 'y'.repeat(NATS_BROADCAST_BATCH + 100) });
      await until(() => got.length === 401, 'every broadcast seen on the subject');
      sub.unsubscribe();
      expect(got).toEqual(Array.from({ length: 401 }, (_, i) => i));
      expect(sizes.length).toBeGreaterThan(5);
      expect(Math.max(...sizes.slice(0, -1))).toBeLessThanOrEqual(NATS_BROADCAST_BATCH);
      expect(sizes.at(-1)).toBeGreaterThan(NATS_BROADCAST_BATCH);
    },
  );

  it('a stray publish on the broadcast subject is discarded and reported; clients keep receiving', async () => {
    const s = server();
    await s.start();
    const c = new NatsSocketClient({ eventName: s.eventName, ...quiet, servers: small.url, autoReconnect: false });
    onCleanup(() => c.disconnect());
    const errors: string[] = [];
    c.on('error', (e) => errors.push((e as { code?: string }).code ?? ''));
    await c.connect({ waitForWelcome: true });
    const nc = await natsConnect({ servers: small.url });
    onCleanup(() => nc.close());
    const frame = encodeFrame(createMessage(s.eventName, MessageType.DATA, { stray: 1 }));
    nc.publish(subjectsFor(s.eventName).all, frame.subarray(0, 7)); // half a frame
    await nc.flush();
    await until(() => errors.length > 0, 'stray publish reported');
    s.send({ after: 'stray' });
    expect((await c.receive({ timeout: 5000 })).data).toEqual({ after: 'stray' });
    expect(errors).toEqual([ErrorCode.INVALID_MESSAGE]);
  });
});

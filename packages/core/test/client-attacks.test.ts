import { describe, expect, it } from '@jest/globals';
import { ErrorCode } from '@socketkit/protocol';
import { fetchStats } from '../src/index.js';
import { fakeClient as client, FakeServer, settle } from './fake-server.js';

describe('receive buffer under a hostile or odd server', () => {
  it('binary data of a message read from the receive buffer stays intact after later messages arrive', async () => {
    const fs = new FakeServer();
    const c = client(fs, { handshake: false, autoReconnect: false });
    await c.connect();
    fs.last.send('data', { b: Buffer.from([1, 2, 3, 4]) });
    fs.last.send('data', { n: 2 });
    await settle();
    const m1 = await c.receive({ timeout: 1000 });
    await c.receive({ timeout: 1000 });
    fs.last.send('data', {
      b: Buffer.from([
        9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
      ]),
    });
    await settle();
    expect(Buffer.from(m1.data.b as Uint8Array)).toEqual(Buffer.from([1, 2, 3, 4]));
    await c.disconnect();
  });
});

describe('receive() and listeners that change their message', () => {
  it.each([
    ['already buffered', false],
    ['while receive() waits', true],
  ])(
    'a message read with receive() is the one that arrived, even when a listener changed its copy (%s)',
    async (_what, waitFirst) => {
      const fs = new FakeServer();
      const c = client(fs, { handshake: false, autoReconnect: false });
      c.on('message', (m) => {
        m.data.n = 'changed by a listener';
      });
      await c.connect();
      const waiting = waitFirst ? c.receive({ timeout: 1000 }) : undefined;
      fs.last.send('data', { n: 1 });
      await settle();
      const m = await (waiting ?? c.receive({ timeout: 1000 }));
      expect(m.data.n).toBe(1);
      await c.disconnect();
    },
  );
});

describe('fetchStats against a foreign server', () => {
  async function askedBy(fs: FakeServer): Promise<string> {
    for (let i = 0; i < 50 && !fs.peers[0]?.received.some((m) => m.data.op === 'stats'); i++) await settle();
    return fs.last.received.find((m) => m.data.op === 'stats')?.id as string;
  }

  it('a stream that errors on destroy() (a Duplex.from transport) after the reply does not crash the process', async () => {
    const fs = new FakeServer('rules');
    const asked = fetchStats(fs.transport, 'rules', { timeoutMs: Number.POSITIVE_INFINITY });
    fs.last.send('control', { op: 'stats', stats: { clients: [] } }, { replyTo: await askedBy(fs) });
    await expect(asked).resolves.toEqual({ clients: [] });
    await settle();
  });

  it.each([
    ['no stats', {}],
    ['stats a string', { stats: 'lots' }],
    ['stats an array', { stats: [1, 2] }],
    ['stats null', { stats: null }],
    ['stats a BigInt', { stats: 2n ** 63n }],
  ])('a stats reply with %s is refused INVALID_MESSAGE, not returned as ServerStats', async (_what, extra) => {
    const fs = new FakeServer('rules');
    const asked = fetchStats(fs.transport, 'rules', { timeoutMs: Number.POSITIVE_INFINITY });
    fs.last.send('control', { op: 'stats', ...extra }, { replyTo: await askedBy(fs) });
    await expect(asked).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE });
  });
});

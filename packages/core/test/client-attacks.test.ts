import { describe, expect, it } from '@jest/globals';
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
    fs.last.send('data', { b: Buffer.from([9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]) });
    await settle();
    expect(Buffer.from(m1.data.b as Uint8Array)).toEqual(Buffer.from([1, 2, 3, 4]));
    await c.disconnect();
  });
});

// core's duplexPair behaves like the two ends of a socket.
import { describe, expect, it } from '@jest/globals';
import { duplexPair } from '../src/index.js';

describe('duplexPair', () => {
  it('the reader gets its own bytes, as over a socket: one buffer written to two pairs is two buffers read', async () => {
    const [a1, b1] = duplexPair();
    const [a2, b2] = duplexPair();
    const shared = Buffer.from('secret');
    const read = (s: typeof b1) => new Promise<Buffer>((r) => s.once('data', r));
    const r1 = read(b1);
    const r2 = read(b2);
    a1.write(shared);
    a2.write(shared);
    const [c1, c2] = await Promise.all([r1, r2]);
    c1.fill(0x58);
    expect(c2.toString()).toBe('secret');
    expect(shared.toString()).toBe('secret');
    for (const s of [a1, b1, a2, b2]) s.destroy();
  });
});

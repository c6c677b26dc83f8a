import { describe, expect, it, jest } from '@jest/globals';
import { TimeoutError } from '@socketkit/protocol';
import { BYTE_QUEUE_SEGMENT, ByteQueue, Inbox } from '../src/client/inbox.js';
import { useFakeTimers } from './fake-timers.js';

/** `n` bytes that decode (first byte) to `item`. */
function bytesOf(item: number, n: number): Buffer {
  return Buffer.alloc(n, item);
}

describe('Inbox', () => {
  useFakeTimers();

  function make(maxItems = 4, maxBytes = 100) {
    const events: string[] = [];
    const inbox = new Inbox<number>({
      maxItems,
      maxBytes,
      decode: (bytes: Uint8Array) => bytes[0] as number,
      onFull: () => events.push('full'),
      onRoom: () => events.push('room'),
    });
    return { inbox, events };
  }

  it('is full at either bound (items or bytes) and has room again at half of both', async () => {
    const { inbox, events } = make(4, 100);
    inbox.offer(1, bytesOf(1, 60));
    inbox.offer(2, bytesOf(2, 50)); // 110 bytes >= 100
    expect(events).toEqual(['full']);
    expect(await inbox.next(1000, () => 't')).toBe(1); // 50 bytes, 1 item: half of both
    expect(events).toEqual(['full', 'room']);
    for (let i = 0; i < 4; i++) inbox.offer(i, bytesOf(i, 1));
    expect(events).toEqual(['full', 'room', 'full']);
  });

  it('hands items straight to waiters, in order, and times waiters out', async () => {
    const { inbox } = make();
    const a = inbox.next(1000, () => 'a');
    const b = inbox.next(50, () => 'no item within 50 ms');
    inbox.offer(7, bytesOf(7, 1));
    expect(await a).toBe(7);
    jest.advanceTimersByTime(50);
    await expect(b).rejects.toBeInstanceOf(TimeoutError);
    expect(inbox.size).toBe(0);
  });

  it('ends cleanly (undefined) or with an error, after what is already in it', async () => {
    const { inbox } = make();
    inbox.offer(1, bytesOf(1, 1));
    inbox.end();
    expect(await inbox.next(Number.POSITIVE_INFINITY, () => '')).toBe(1);
    expect(await inbox.next(Number.POSITIVE_INFINITY, () => '')).toBeUndefined();
    const err = new Error('fatal');
    inbox.reopen();
    const w = inbox.next(Number.POSITIVE_INFINITY, () => '');
    inbox.end(err);
    await expect(w).rejects.toBe(err);
  });

  it('with dropOldest never reports full: it drops the oldest to stay within both bounds', () => {
    const { inbox, events } = make(3, 10);
    let dropped = 0;
    for (let i = 0; i < 10; i++) dropped += inbox.offer(i, bytesOf(i, 4), true);
    expect(events).toEqual([]);
    expect(inbox.size).toBe(2); // 2 × 4 bytes ≤ 10
    expect(inbox.bytes).toBe(8);
    expect(dropped).toBe(8);
  });

  it('keeps copies: a reader gets the bytes as offered even if the source buffer changes later', async () => {
    const { inbox } = make(10, 1000);
    const chunk = Buffer.from([5, 5, 5, 6, 6]);
    inbox.offer(5, chunk.subarray(0, 3));
    inbox.offer(6, chunk.subarray(3));
    chunk.fill(9);
    expect(await inbox.next(1000, () => '')).toBe(5);
    expect(await inbox.next(1000, () => '')).toBe(6);
    expect(inbox.bytes).toBe(0);
  });
});

describe('ByteQueue', () => {
  it(
    'returns every entry in order across segments, for entries of any size (empty, tiny, exactly a segment, ' +
      'larger)',
    () => {
      const q = new ByteQueue();
      const model: Buffer[] = [];
      let seed = 7;
      const rnd = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const sizes = [
        0,
        1,
        3,
        4,
        5,
        BYTE_QUEUE_SEGMENT - 4,
        BYTE_QUEUE_SEGMENT - 5,
        BYTE_QUEUE_SEGMENT,
        BYTE_QUEUE_SEGMENT + 1,
        3 * BYTE_QUEUE_SEGMENT,
      ];
      for (let round = 0; round < 3000; round++) {
        if (rnd(3) !== 0 || model.length === 0) {
          const n = rnd(10) === 0 ? (sizes[rnd(sizes.length)] as number) : rnd(300);
          const e = Buffer.alloc(n);
          for (let i = 0; i < n; i += 97) e[i] = (round + i) & 0xff;
          q.push(e);
          model.push(e);
        } else if (rnd(4) === 0) {
          expect(q.drop()).toBe((model.shift() as Buffer).length);
        } else {
          const got = q.shift();
          expect(Buffer.from(got as Uint8Array).equals(model.shift() as Buffer)).toBe(true);
        }
        expect(q.length).toBe(model.length);
      }
      while (model.length > 0) expect(Buffer.from(q.shift() as Uint8Array).equals(model.shift() as Buffer)).toBe(true);
      expect(q.shift()).toBeUndefined();
      expect(q.drop()).toBe(-1);
    },
  );
});

describe('ByteQueue memory', () => {
  it('holds the bytes it keeps (4-byte lengths included) plus at most three segments, whatever the entry sizes', () => {
    for (const n of [
      100,
      BYTE_QUEUE_SEGMENT / 2 - 1,
      BYTE_QUEUE_SEGMENT / 2 - 5,
      BYTE_QUEUE_SEGMENT / 3,
      BYTE_QUEUE_SEGMENT - 4,
      BYTE_QUEUE_SEGMENT + 1,
    ]) {
      const q = new ByteQueue();
      let kept = 0;
      for (let i = 0; i < 100; i++) {
        q.push(Buffer.alloc(n));
        kept += 4 + n;
      }
      expect(q.heldBytes).toBeLessThanOrEqual(kept + 3 * BYTE_QUEUE_SEGMENT);
    }
  });

  it.each(['shift', 'drop'] as const)(
    'an empty queue does not keep the segment of a large entry it held once (taken by %s)',
    (take) => {
      const q = new ByteQueue();
      q.push(Buffer.alloc(16 * BYTE_QUEUE_SEGMENT));
      expect(take === 'shift' ? q.shift()?.length : q.drop()).toBe(16 * BYTE_QUEUE_SEGMENT);
      for (let i = 0; i < 10; i++) {
        q.push(Buffer.alloc(50));
        if (take === 'shift') q.shift();
        else q.drop();
      }
      expect(q.heldBytes).toBeLessThanOrEqual(2 * BYTE_QUEUE_SEGMENT);
    },
  );
});

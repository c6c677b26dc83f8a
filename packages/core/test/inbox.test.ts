import { describe, expect, it, jest } from '@jest/globals';
import { TimeoutError } from '@socketkit/protocol';
import { Inbox } from '../src/inbox.js';
import { useFakeTimers } from './fake-timers.js';

describe('Inbox', () => {
  useFakeTimers();

  function make(maxItems = 4, maxBytes = 100) {
    const events: string[] = [];
    const inbox = new Inbox<number>({
      maxItems,
      maxBytes,
      onFull: () => events.push('full'),
      onRoom: () => events.push('room'),
    });
    return { inbox, events };
  }

  it('is full at either bound (items or bytes) and has room again at half of both', async () => {
    const { inbox, events } = make(4, 100);
    inbox.offer(1, 60);
    inbox.offer(2, 50); // 110 bytes >= 100
    expect(events).toEqual(['full']);
    expect(await inbox.next(1000, () => 't')).toBe(1); // 50 bytes, 1 item: half of both
    expect(events).toEqual(['full', 'room']);
    for (let i = 0; i < 4; i++) inbox.offer(i, 1);
    expect(events).toEqual(['full', 'room', 'full']);
  });

  it('hands items straight to waiters, in order, and times waiters out', async () => {
    const { inbox } = make();
    const a = inbox.next(1000, () => 'a');
    const b = inbox.next(50, () => 'no item within 50 ms');
    inbox.offer(7, 1);
    expect(await a).toBe(7);
    jest.advanceTimersByTime(50);
    await expect(b).rejects.toBeInstanceOf(TimeoutError);
    expect(inbox.size).toBe(0);
  });

  it('ends cleanly (undefined) or with an error, after what is already in it', async () => {
    const { inbox } = make();
    inbox.offer(1, 1);
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
    for (let i = 0; i < 10; i++) dropped += inbox.offer(i, 4, true);
    expect(events).toEqual([]);
    expect(inbox.size).toBe(2); // 2 × 4 bytes ≤ 10
    expect(inbox.bytes).toBe(8);
    expect(dropped).toBe(8);
  });
});

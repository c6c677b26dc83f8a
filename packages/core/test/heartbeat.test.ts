import { describe, expect, it, jest } from '@jest/globals';
import { Heartbeat } from '../src/wire/heartbeat.js';
import { useFakeTimers } from './fake-timers.js';

describe('Heartbeat', () => {
  useFakeTimers();

  function make(intervalMs = 100, timeoutMs = 300) {
    const events: string[] = [];
    const hb = new Heartbeat({
      intervalMs,
      timeoutMs,
      ping: () => events.push('ping'),
      dead: (silent) => events.push(`dead ${silent}`),
    });
    return { hb, events };
  }

  it('pings every interval while the peer talks, and never declares it dead', () => {
    const { hb, events } = make();
    hb.start();
    for (let i = 0; i < 10; i++) {
      jest.advanceTimersByTime(100);
      hb.seen();
    }
    expect(events).toEqual(Array(10).fill('ping'));
    hb.stop();
  });

  it('declares a silent peer dead once, after the timeout, and stops', () => {
    const { hb, events } = make();
    hb.start();
    jest.advanceTimersByTime(1000);
    expect(events).toEqual(['ping', 'ping', 'ping', 'dead 400']);
    expect(hb.running).toBe(false);
  });

  it('interval 0 is off: start does nothing', () => {
    const { hb, events } = make(0);
    hb.start();
    jest.advanceTimersByTime(10_000);
    expect(events).toEqual([]);
    expect(hb.running).toBe(false);
  });

  it('stop before the first tick sends nothing', () => {
    const { hb, events } = make();
    hb.start();
    hb.stop();
    jest.advanceTimersByTime(1000);
    expect(events).toEqual([]);
  });
});

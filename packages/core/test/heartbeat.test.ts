import { describe, expect, it, jest } from '@jest/globals';
import { Heartbeat, sharedTimers } from '../src/wire/heartbeat.js';
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

describe('sharedTimers (the heartbeats of a server, issue 28 item 5)', () => {
  useFakeTimers();

  function make(timers: ReturnType<typeof sharedTimers>, name: string, events: string[], timeoutMs = 300) {
    return new Heartbeat({
      intervalMs: 100,
      timeoutMs,
      ping: () => events.push(`ping ${name}`),
      dead: () => events.push(`dead ${name}`),
      timers,
    });
  }

  it('runs every heartbeat of one interval off one timer, started with the first and cleared with the last', () => {
    const timers = sharedTimers();
    const events: string[] = [];
    const hbs = ['a', 'b', 'c'].map((n) => make(timers, n, events));
    const before = jest.getTimerCount();
    for (const hb of hbs) hb.start();
    expect(jest.getTimerCount()).toBe(before + 1);
    jest.advanceTimersByTime(100);
    for (const hb of hbs) hb.seen();
    expect(events).toEqual(['ping a', 'ping b', 'ping c']);
    hbs[0]?.stop();
    hbs[1]?.stop();
    expect(jest.getTimerCount()).toBe(before + 1);
    jest.advanceTimersByTime(100);
    expect(events.slice(3)).toEqual(['ping c']);
    hbs[2]?.stop();
    expect(jest.getTimerCount()).toBe(before);
  });

  it('still declares each silent peer dead once, and a heartbeat stopped by a tick does not stop the others', () => {
    const timers = sharedTimers();
    const events: string[] = [];
    const quiet = make(timers, 'quiet', events);
    const talker = make(timers, 'talker', events);
    quiet.start();
    talker.start();
    for (let i = 0; i < 6; i++) {
      jest.advanceTimersByTime(100);
      talker.seen();
    }
    expect(events.filter((e) => e.startsWith('dead'))).toEqual(['dead quiet']);
    expect(events.filter((e) => e === 'ping talker').length).toBeGreaterThanOrEqual(6);
    expect(quiet.running).toBe(false);
    expect(talker.running).toBe(true);
    talker.stop();
  });
});

describe('sharedTimers slices', () => {
  useFakeTimers();

  it('deals the heartbeats into slices: a tick runs an eighth of them, each still runs once per interval', () => {
    const timers = sharedTimers();
    const pings: number[] = [];
    const hbs = Array.from(
      { length: 16 },
      (_, i) => new Heartbeat({ intervalMs: 800, timeoutMs: 5000, ping: () => pings.push(i), dead: () => {}, timers }),
    );
    for (const hb of hbs) hb.start();
    jest.advanceTimersByTime(100);
    expect(pings).toHaveLength(2);
    jest.advanceTimersByTime(700);
    expect([...pings].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    for (const hb of hbs) hb.stop();
  });
});

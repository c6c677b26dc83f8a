import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import {
  getTimestampIso,
  getTimestampMs,
  getUtcOffsetMinutes,
  isValidTimezone,
  ISO_TIMESTAMP_PATTERN,
  ValidationError,
  ErrorCode,
} from '../src/index.js';

const T = 1_700_000_000_000; // 2023-11-14T22:13:20.000Z (winter in New York)
const SUMMER = Date.UTC(2023, 6, 1, 12, 0, 0, 123); // 2023-07-01T12:00:00.123Z (DST in New York)

/** Wall-clock fields of `ms` in `zone` straight from Intl, at the exact instant (independent oracle). */
function wallClock(zone: string, ms: number): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '??';
  return `${get('year')}-${get('month')}-${get('day')}T${get('hour')}:${get('minute')}:${get('second')}`;
}

describe('getTimestampIso', () => {
  it('formats UTC like Python isoformat, without a fraction when it is zero', () => {
    expect(getTimestampIso('UTC', T)).toBe('2023-11-14T22:13:20+00:00');
    expect(getTimestampIso('UTC', 0)).toBe('1970-01-01T00:00:00+00:00');
    expect(getTimestampIso('Etc/UTC', T)).toBe('2023-11-14T22:13:20+00:00');
  });

  it('prints six-digit microseconds when the fraction is not zero', () => {
    expect(getTimestampIso('UTC', T + 123)).toBe('2023-11-14T22:13:20.123000+00:00');
    expect(getTimestampIso('UTC', T + 1)).toBe('2023-11-14T22:13:20.001000+00:00');
    expect(getTimestampIso('UTC', T + 999)).toBe('2023-11-14T22:13:20.999000+00:00');
    // Fractional milliseconds are kept as microseconds.
    expect(getTimestampIso('UTC', T + 123.456)).toBe('2023-11-14T22:13:20.123456+00:00');
    expect(getTimestampIso('UTC', T + 0.001)).toBe('2023-11-14T22:13:20.000001+00:00');
  });

  it('formats a positive half-hour offset (Asia/Kolkata +05:30)', () => {
    expect(getTimestampIso('Asia/Kolkata', T)).toBe('2023-11-15T03:43:20+05:30');
    expect(getTimestampIso('Asia/Kolkata', SUMMER)).toBe('2023-07-01T17:30:00.123000+05:30');
  });

  it('formats a quarter-hour offset (Asia/Kathmandu +05:45)', () => {
    expect(getTimestampIso('Asia/Kathmandu', T)).toBe('2023-11-15T03:58:20+05:45');
    expect(getTimestampIso('Asia/Kathmandu', SUMMER)).toBe('2023-07-01T17:45:00.123000+05:45');
  });

  it('formats a negative offset in winter and in DST (America/New_York)', () => {
    expect(getTimestampIso('America/New_York', T)).toBe('2023-11-14T17:13:20-05:00');
    expect(getTimestampIso('America/New_York', SUMMER)).toBe('2023-07-01T08:00:00.123000-04:00');
  });

  it('switches offset exactly at a DST transition (cache does not leak across it)', () => {
    // 2023-03-12: 02:00 EST -> 03:00 EDT, i.e. 07:00Z.
    const jump = Date.UTC(2023, 2, 12, 7, 0, 0, 0);
    expect(getTimestampIso('America/New_York', jump - 1)).toBe('2023-03-12T01:59:59.999000-05:00');
    expect(getTimestampIso('America/New_York', jump)).toBe('2023-03-12T03:00:00-04:00');
    expect(getTimestampIso('America/New_York', jump - 1)).toBe('2023-03-12T01:59:59.999000-05:00');
    // 2023-11-05: 02:00 EDT -> 01:00 EST, i.e. 06:00Z; 01:30 local happens twice.
    const back = Date.UTC(2023, 10, 5, 6, 0, 0, 0);
    expect(getTimestampIso('America/New_York', back - 30 * 60000)).toBe('2023-11-05T01:30:00-04:00');
    expect(getTimestampIso('America/New_York', back + 30 * 60000)).toBe('2023-11-05T01:30:00-05:00');
  });

  it('handles instants before the epoch', () => {
    expect(getTimestampIso('UTC', -1)).toBe('1969-12-31T23:59:59.999000+00:00');
    expect(getTimestampIso('UTC', -1000)).toBe('1969-12-31T23:59:59+00:00');
    expect(Date.parse(getTimestampIso('UTC', -1))).toBe(-1);
  });

  it('uses UTC and the current time by default', () => {
    const before = Date.now();
    const iso = getTimestampIso();
    const after = Date.now();
    expect(iso).toMatch(ISO_TIMESTAMP_PATTERN);
    expect(iso.endsWith('+00:00')).toBe(true);
    const parsed = Date.parse(iso);
    expect(parsed).toBeGreaterThanOrEqual(before);
    expect(parsed).toBeLessThanOrEqual(after);
  });

  it.each(['UTC', 'Asia/Kolkata', 'Asia/Kathmandu', 'America/New_York'])(
    'parses back to the same instant with Date (%s)',
    (zone) => {
      for (const ms of [T, T + 123, SUMMER, 0, Date.UTC(2038, 0, 19, 3, 14, 8, 1)]) {
        const iso = getTimestampIso(zone, ms);
        expect(iso).toMatch(ISO_TIMESTAMP_PATTERN);
        expect(new Date(iso).getTime()).toBe(ms);
      }
    },
  );

  it('property: matches the pattern, parses back and shows the zone wall clock', () => {
    const zones = [
      'UTC',
      'Asia/Kolkata',
      'Asia/Kathmandu',
      'America/New_York',
      'America/St_Johns',
      'Europe/Berlin',
      'Australia/Lord_Howe',
      'Pacific/Chatham',
      'Pacific/Kiritimati',
      'Pacific/Pago_Pago',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        // 1980..2100: every zone above has whole-minute offsets in this span.
        fc.integer({ min: Date.UTC(1980, 0, 1), max: Date.UTC(2100, 0, 1) }),
        (zone, ms) => {
          const iso = getTimestampIso(zone, ms);
          expect(iso).toMatch(ISO_TIMESTAMP_PATTERN);
          expect(Date.parse(iso)).toBe(ms);
          expect(iso.slice(0, 19)).toBe(wallClock(zone, ms));
          expect(ms % 1000 === 0).toBe(!iso.includes('.'));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it.each(['Mars/Olympus_Mons', 'Not_A_Zone', '', 'Europe/Nowhere'])(
    'rejects unknown zone %j with ValidationError INVALID_CONFIG',
    (zone) => {
      let err: unknown;
      try {
        getTimestampIso(zone, T);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).code).toBe(ErrorCode.INVALID_CONFIG);
      expect((err as Error).message).toContain(JSON.stringify(zone));
      expect(isValidTimezone(zone)).toBe(false);
    },
  );
});

describe('getUtcOffsetMinutes / isValidTimezone', () => {
  it('returns east-positive offsets in minutes', () => {
    expect(getUtcOffsetMinutes('UTC', T)).toBe(0);
    expect(getUtcOffsetMinutes('Asia/Kolkata', T)).toBe(330);
    expect(getUtcOffsetMinutes('Asia/Kathmandu', T)).toBe(345);
    expect(getUtcOffsetMinutes('America/New_York', T)).toBe(-300);
    expect(getUtcOffsetMinutes('America/New_York', SUMMER)).toBe(-240);
  });

  it('knows real zones', () => {
    for (const zone of ['UTC', 'Europe/Berlin', 'Asia/Kathmandu', 'America/New_York']) {
      expect(isValidTimezone(zone)).toBe(true);
    }
  });
});

describe('getTimestampMs', () => {
  it('returns the current time as an integer', () => {
    const before = Date.now();
    const ms = getTimestampMs();
    const after = Date.now();
    expect(Number.isInteger(ms)).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(after);
  });
});

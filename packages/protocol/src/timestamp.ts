import { ErrorCode, ValidationError } from './errors.js';

/** Current Unix epoch time in milliseconds (integer). */
export function getTimestampMs(): number {
  return Date.now();
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
    } catch (cause) {
      throw new ValidationError(
        ErrorCode.INVALID_CONFIG,
        `unknown time zone ${JSON.stringify(timezone)}: use an IANA zone name such as "UTC" or "Europe/Berlin"`,
        { cause, details: { timezone } },
      );
    }
    formatters.set(timezone, f);
  }
  return f;
}

/** True when `timezone` is an IANA zone name this runtime knows. */
export function isValidTimezone(timezone: string): boolean {
  try {
    formatterFor(timezone);
    return true;
  } catch {
    return false;
  }
}

// UTC offsets only change on quarter-hour boundaries, so one Intl lookup per
// zone per 15-minute window is enough; formatting stays cheap on the hot path.
const OFFSET_WINDOW_MS = 15 * 60 * 1000;
const offsetCache = new Map<string, { window: number; offsetMin: number }>();

/** Offset of `timezone` from UTC at instant `ms`, in minutes (east positive). */
export function getUtcOffsetMinutes(timezone: string, ms: number): number {
  if (timezone === 'UTC' || timezone === 'Etc/UTC') return 0;
  const window = Math.floor(ms / OFFSET_WINDOW_MS);
  const cached = offsetCache.get(timezone);
  if (cached !== undefined && cached.window === window) return cached.offsetMin;
  const parts = formatterFor(timezone).formatToParts(new Date(window * OFFSET_WINDOW_MS));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value);
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  const offsetMin = Math.round((asUtc - window * OFFSET_WINDOW_MS) / 60000);
  offsetCache.set(timezone, { window, offsetMin });
  return offsetMin;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * ISO 8601 timestamp in `timezone` with a numeric offset, formatted like
 * Python's `datetime.isoformat()`: `2026-11-23T10:00:00.123000+00:00`.
 * The fraction has six digits (microseconds), or is absent when they are zero,
 * exactly as Python prints it.
 *
 * @param timezone IANA zone name (default `UTC`).
 * @param ms Instant in epoch milliseconds (default now). Fractional
 *   milliseconds are kept as microseconds.
 */
export function getTimestampIso(timezone = 'UTC', ms: number = Date.now()): string {
  // Hot path: many messages are stamped within the same millisecond.
  if (ms === last.ms && timezone === last.timezone) return last.iso;
  const wholeMs = Math.floor(ms);
  const micros = Math.round((ms - wholeMs) * 1000) + (((wholeMs % 1000) + 1000) % 1000) * 1000;
  const second = Math.floor(wholeMs / 1000);
  // The date, time and offset only change once per second: build them once per second.
  if (second !== last.second || timezone !== last.timezone) {
    const offsetMin = getUtcOffsetMinutes(timezone, wholeMs);
    const local = new Date(second * 1000 + offsetMin * 60000).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
    const sign = offsetMin < 0 ? '-' : '+';
    const abs = Math.abs(offsetMin);
    last.base = local.slice(0, 19);
    last.offset = `${sign}${pad(Math.floor(abs / 60), 2)}:${pad(abs % 60, 2)}`;
    last.second = second;
  }
  const fraction = micros === 0 ? '' : `.${pad(Math.min(micros, 999999), 6)}`;
  const iso = `${last.base}${fraction}${last.offset}`;
  last.timezone = timezone;
  last.ms = ms;
  last.iso = iso;
  return iso;
}

const last = { timezone: '', ms: Number.NaN, iso: '', second: Number.NaN, base: '', offset: '' };

/** Matches Python `isoformat()` output: optional 6-digit fraction, numeric offset. */
export const ISO_TIMESTAMP_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?[+-]\d{2}:\d{2}$/;

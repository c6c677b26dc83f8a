import { Packr, Unpackr } from 'msgpackr';
import { MessageError, type SocketMessage } from '@socketkit/protocol';
import { FrameDecoder } from '../src/index.js';

/** Independent msgpackr decoder with the settings the spec asks for (64-bit ints as numbers). */
export const plainUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** A packr that can write Maps with arbitrary keys (for hostile frames). */
export const rawPackr = new Packr({ useRecords: false, mapsAsObjects: false, variableMapSize: true });

/** A valid wire object (snake_case), as a Map so tests can add odd keys. */
export function wireEntries(overrides: Record<string, unknown> = {}): Map<unknown, unknown> {
  return new Map<unknown, unknown>(
    Object.entries({
      event_name: 'evt',
      timestamp_ms: 1_700_000_000_000,
      timestamp_iso: '2023-11-14T22:13:20+00:00',
      message_type: 'data',
      data: { ok: true },
      ...overrides,
    }),
  );
}

/** Runs `fn`, expects a MessageError, returns it. */
export function messageError(fn: () => unknown): MessageError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof MessageError)) throw new Error(`expected a MessageError, got ${String(err)}`);
  return err;
}

/** Feeds `chunks` in order to a fresh decoder and returns every message. */
export function decodeChunks(chunks: Uint8Array[], decoder = new FrameDecoder()): SocketMessage[] {
  const out: SocketMessage[] = [];
  for (const c of chunks) out.push(...decoder.push(c));
  return out;
}

/** Splits `buf` at the given (unsorted, possibly duplicate) cut points. */
export function splitAt(buf: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(buf.length, c))))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    parts.push(buf.subarray(prev, p));
    prev = p;
  }
  parts.push(buf.subarray(prev));
  return parts;
}

/** Every byte of `buf` as its own chunk. */
export function bytewise(buf: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < buf.length; i++) out.push(buf.subarray(i, i + 1));
  return out;
}

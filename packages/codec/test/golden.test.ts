import { afterAll, describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toWireMessage } from '@socketkit/protocol';
import { encodeFrame, encodePayload, FrameDecoder } from '../src/index.js';
import { plainUnpackr, bytewise } from './helpers.js';

interface GoldenFrame {
  name: string;
  description: string;
  length: number;
  frame_hex: string;
  payload_hex: string;
  decoded: Record<string, unknown>;
}

// Frames captured from the Python reference module (msgpack 1.0.3), kept in
// the repository so this test runs in every clone: a missing file fails it.
const goldenPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'golden.json');
const frames = (JSON.parse(readFileSync(goldenPath, 'utf8')) as { frames: GoldenFrame[] }).frames;

/** Checks every golden test must run per frame; counted so a skipped one fails the file. */
const CHECKS = ['self-consistent', 'decodes', 'exact-ints', 're-encodes', 'same-bytes'] as const;
const ran = new Set<string>();
const done = (frame: string, check: (typeof CHECKS)[number]): void => {
  ran.add(`${frame}/${check}`);
};

// JSON cannot hold integers beyond 2^53: `decoded` has them rounded. Compare
// BigInts to the JSON by their nearest double, and check their exact values below.
const EXACT: Record<string, Record<string, bigint>> = {
  int_widths: { u64: 2n ** 63n, i64: -(2n ** 62n) },
};
function asJson(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(asJson);
  if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asJson(x)]));
  }
  return v;
}

describe('golden frames from the Python reference module', () => {
  it('has the frames this file expects', () => {
    expect(frames.map((f) => f.name)).toEqual([
      'data_nested',
      'error',
      'control',
      'unicode',
      'empty_data',
      'int_widths',
      'bench_shape',
      'done',
    ]);
  });

  describe.each(frames.map((f): [string, GoldenFrame] => [f.name, f]))('%s', (name, f) => {
    const frame = Buffer.from(f.frame_hex, 'hex');

    it('is self-consistent (length prefix, payload_hex)', () => {
      expect(frame.readUInt32BE(0)).toBe(frame.length - 4);
      expect(frame.length - 4).toBe(f.length);
      expect(frame.subarray(4).toString('hex')).toBe(f.payload_hex);
      done(name, 'self-consistent');
    });

    it('decodes to `decoded`, in one chunk and one byte at a time', () => {
      const whole = new FrameDecoder().push(frame);
      expect(whole).toHaveLength(1);
      expect(asJson(toWireMessage(whole[0]!))).toEqual(f.decoded);
      const d = new FrameDecoder();
      const bytes = bytewise(frame).flatMap((b) => d.push(b));
      expect(bytes).toEqual(whole);
      done(name, 'decodes');
    });

    it('decodes 64-bit integers exactly (numbers when safe, |n| <= 2^53-1; BigInt from ±2^53 on)', () => {
      const [m] = new FrameDecoder().push(frame);
      for (const [k, v] of Object.entries(EXACT[name] ?? {})) expect(m!.data[k]).toBe(v);
      for (const v of Object.values(m!.data)) {
        if (typeof v === 'number' && Number.isInteger(v)) expect(Number.isSafeInteger(v)).toBe(true);
      }
      done(name, 'exact-ints');
    });

    it('re-encodes to equal values', () => {
      const [m] = new FrameDecoder().push(frame);
      const again = encodeFrame(m!);
      expect(plainUnpackr.unpack(again.subarray(4))).toEqual(plainUnpackr.unpack(frame.subarray(4)));
      expect(new FrameDecoder().push(again)).toEqual([m]);
      done(name, 're-encodes');
    });

    it('re-encodes to exactly the Python bytes', () => {
      const [m] = new FrameDecoder().push(frame);
      expect(encodeFrame(m!).toString('hex')).toBe(f.frame_hex);
      expect(encodePayload(m!).toString('hex')).toBe(f.payload_hex);
      done(name, 'same-bytes');
    });
  });

  // Jest reports a skipped test as a pass of the suite; this makes it a failure.
  afterAll(() => {
    const expected = frames.flatMap((f) => CHECKS.map((c) => `${f.name}/${c}`));
    const missing = expected.filter((k) => !ran.has(k));
    if (missing.length > 0) throw new Error(`golden tests skipped or not run: ${missing.join(', ')}`);
  });
});

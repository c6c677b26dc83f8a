import { Packr } from 'msgpackr';

// Same settings as @socketkit/codec: plain maps, no records.
const sizer = new Packr({ useRecords: false, variableMapSize: true });

/**
 * Builds a `data` object whose msgpack encoding is exactly `bytes` long:
 * `{ payload: "xxx…" }` (a string) up to 1 KiB, `{ payload: <binary> }` above.
 * Built once per scenario and reused for every message.
 */
export function makeData(bytes: number): Record<string, unknown> {
  const binary = bytes > 1024;
  const make = (n: number): Record<string, unknown> => ({ payload: binary ? Buffer.alloc(n, 0x61) : 'x'.repeat(n) });
  const overhead = sizer.pack(make(0)).length;
  // Header sizes grow with the length; step down until the total fits exactly.
  for (let n = Math.max(0, bytes - overhead); n >= 0; n--) {
    const data = make(n);
    const size = sizer.pack(data).length;
    if (size === bytes) return data;
    if (size < bytes) break;
  }
  throw new Error(`cannot build a data payload of exactly ${bytes} bytes`);
}

// Interleaved A/B of the frame encoder: the codec's encoder before issue 14
// (msgpackr for `data`, frozen in baseline/old-encode.ts) against the current
// one (@socketkit/codec), in ONE process, alternating per batch, median of 7
// rounds. Separate runs on a shared machine differ by far more than the 5%
// this must show, so only same-process interleaving is meaningful.
//
//   node bench/dist/ab/encoder-ab.js [--rounds 7] [--ms 60]
// (also shows the decoder, old vs new, for information)
import { createMessage, type MessageData, type SocketMessage } from '@socketkit/protocol';
import { decodePayload as newDecode, encodeFrame as newEncode } from '@socketkit/codec';
import { decodePayload as oldDecode } from './baseline/old-decode.js';
import { encodeFrame as oldEncode } from './baseline/old-encode.js';

type Encoder = (m: SocketMessage) => Buffer;

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const ROUNDS = Number(args.get('rounds') ?? 7);
const BATCH_MS = Number(args.get('ms') ?? 60);

const T = 1_764_500_000_000;
const shapes: Array<[string, MessageData]> = [
  // what the benchmark scenarios send: a sequence number and a 100-byte string
  ['seq + 100 B string', { seq: 123456, payload: 'x'.repeat(100) }],
  [
    'typical object',
    {
      user: {
        id: 12345,
        name: 'Ada Lovelace',
        email: 'ada@example.org',
        tags: ['admin', 'ops', 'dev'],
        active: true,
        score: 98.5,
      },
      items: Array.from({ length: 5 }, (_, i) => ({ sku: `SKU-${i}`, qty: i + 1, price: 9.99 * (i + 1) })),
      note: 'héllo wörld ✓',
    },
  ],
  [
    'int-heavy (ms timestamps)',
    { at: Array.from({ length: 50 }, (_, i) => T + i * 1000), ids: Array.from({ length: 50 }, (_, i) => i * 7) },
  ],
  ['1 KiB string', { payload: 'y'.repeat(1024) }],
  ['64 KiB binary', { payload: Buffer.alloc(64 * 1024, 0x61) }],
];
const messages = shapes.map(
  ([name, data]) => [name, createMessage('bench', 'data', data, { timestampMs: T })] as const,
);

/** ns per call over a batch of `n`. */
function batch(encode: Encoder, m: SocketMessage, n: number): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) sink += encode(m).length;
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink === 0) throw new Error('unreachable');
  return ns / n;
}

/** The decoder as an Encoder-shaped function (decodes the message's frame payload). */
function decoding(decode: (p: Uint8Array) => SocketMessage): Encoder {
  const payloads = new Map<SocketMessage, Uint8Array>();
  return (m) => {
    let p = payloads.get(m);
    if (p === undefined) payloads.set(m, (p = oldEncode(m).subarray(4)));
    decode(p);
    return p as Buffer;
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

// Same bytes where the old encoder was already right, so the work compared is the same.
for (const [name, m] of messages) {
  if (name !== 'int-heavy (ms timestamps)' && !newEncode(m).equals(oldEncode(m)))
    throw new Error(`encoders disagree on ${name}`);
}

const rows: Array<{ shape: string; oldNs: number; newNs: number; ratio: number }> = [];
function measure(label: string, oldFn: Encoder, newFn: Encoder): void {
  for (const [shape, m] of messages) {
    const name = `${label}: ${shape}`;
    // calibrate and warm up both
    let n = 100;
    while (batch(oldFn, m, n) * n < BATCH_MS * 1e6 && n < 1e7) n *= 2;
    batch(newFn, m, n);
    const olds: number[] = [];
    const news: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      // alternate which goes first, so drift within a round favours neither
      if (r % 2 === 0) {
        olds.push(batch(oldFn, m, n));
        news.push(batch(newFn, m, n));
      } else {
        news.push(batch(newFn, m, n));
        olds.push(batch(oldFn, m, n));
      }
    }
    const oldNs = median(olds);
    const newNs = median(news);
    rows.push({ shape: name, oldNs, newNs, ratio: newNs / oldNs });
  }
}
measure('encode', oldEncode, newEncode);
// the decoder is not part of the 5% target; shown because its checks moved before decoding
measure('decode', decoding(oldDecode), decoding(newDecode));

console.log(
  `encoder A/B, interleaved in one process, median of ${ROUNDS} rounds (${BATCH_MS} ms batches), node ` +
    `${process.version}`,
);
console.log('| operation: message data | old ns/op | new ns/op | new ÷ old |');
console.log('|---|---:|---:|---:|');
for (const r of rows)
  console.log(`| ${r.shape} | ${r.oldNs.toFixed(0)} | ${r.newNs.toFixed(0)} | ${r.ratio.toFixed(3)} |`);
const enc = rows.filter((r) => r.shape.startsWith('encode'));
const geo = Math.exp(enc.reduce((s, r) => s + Math.log(r.ratio), 0) / enc.length);
console.log(
  `encoder: geometric mean new ÷ old ${geo.toFixed(3)}, worst ${Math.max(...enc.map((r) => r.ratio)).toFixed(3)} ` +
    `(within 5% means ≤ 1.050)`,
);
console.log(JSON.stringify({ rounds: ROUNDS, rows, geomean: geo }));

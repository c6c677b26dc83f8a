// Hostile input over real sockets: thousands of seeded, reproducible cases.
// Broken framing (a length over the limit, a truncated frame): that
// connection gets an ERROR with a code and is closed. A well-framed payload
// that is not a valid message: reported with INVALID_MESSAGE and skipped, the
// connection stays up (a valid message right after it is delivered), as in
// the Python module. A zero-length frame ends the stream cleanly. Always: the
// server stays up, memory does not jump, a well-behaved client keeps
// receiving every broadcast, in order.
import { expect, it } from '@jest/globals';
import { FrameDecoder, encodeFrame, frameBytes, packValue } from '@socketkit/codec';
import { describeTransports, onCleanup, readAll, until, type TransportFactory } from '@socketkit/conformance';
import { ErrorCode, createMessage, type SocketMessage } from '@socketkit/protocol';
import { record } from './report.js';

const SEED = Number(process.env.SOCKETKIT_FUZZ_SEED ?? 0x5eed);
const CASES: Record<string, number> = { unix: 3000, tcp: 1000, nats: 400 };
const PARALLEL = 8;

/** mulberry32: tiny seeded PRNG so every run is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  kind: string;
  bytes: Buffer;
  /** ERROR codes the peer may get before the close; empty: no ERROR at all. */
  codes: string[];
  /** A well-framed invalid message: skipped, and the probe message sent right after it must be delivered. */
  skipped?: boolean;
}

const TOO_LARGE = [ErrorCode.FRAME_TOO_LARGE];
const MALFORMED = [ErrorCode.MALFORMED_FRAME];
const EITHER = [ErrorCode.FRAME_TOO_LARGE, ErrorCode.MALFORMED_FRAME];
const SKIPPED = { codes: [] as string[], skipped: true };

function wire(rand: () => number, eventName: string): Record<string, unknown> {
  return {
    event_name: eventName,
    timestamp_ms: Math.floor(rand() * 2 ** 41),
    timestamp_iso: '2026-11-23T10:00:00+00:00',
    message_type: 'data',
    data: { n: rand() },
  };
}

function makeCase(i: number, rand: () => number, eventName: string): Case {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const kinds = [
    'random-bytes',
    'truncated',
    'zero-length',
    'max-prefix',
    'wrong-type',
    'missing-key',
    'non-string-key',
    'deep-nesting',
    'bad-event-name',
    'not-a-map',
  ];
  const kind = kinds[i % kinds.length] as string;
  switch (kind) {
    case 'random-bytes': {
      const b = Buffer.alloc(4 + Math.floor(rand() * 200));
      for (let k = 0; k < b.length; k++) b[k] = Math.floor(rand() * 256);
      return { kind, bytes: b, codes: EITHER };
    }
    case 'truncated': {
      const f = encodeFrame(createMessage(eventName, 'data', { blob: 'z'.repeat(Math.floor(rand() * 500)) }));
      return { kind, bytes: f.subarray(0, 1 + Math.floor(rand() * (f.length - 1))), codes: MALFORMED };
    }
    case 'zero-length':
      return { kind, bytes: Buffer.alloc(4), codes: [] };
    case 'max-prefix':
      return {
        kind,
        bytes: Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.alloc(Math.floor(rand() * 64))]),
        codes: TOO_LARGE,
      };
    case 'wrong-type': {
      const w = wire(rand, eventName);
      const key = pick(['event_name', 'timestamp_ms', 'timestamp_iso', 'message_type', 'data', 'id', 'reply_to']);
      // every value here is of the wrong type for that key
      const stringKeys = ['timestamp_iso', 'id', 'reply_to'];
      w[key] = pick(
        [42, 'nope', null, true, [1, 2], 1.5, { a: 1 }].filter(
          (v) =>
            !(stringKeys.includes(key) && typeof v === 'string') &&
            !(key === 'data' && typeof v === 'object' && v !== null && !Array.isArray(v)),
        ),
      );
      if (key === 'message_type') w[key] = pick([42, 'other', null]);
      if (key === 'event_name') w[key] = pick([42, null, ['x']]);
      if (key === 'timestamp_ms') w[key] = pick(['soon', null, 1.25]);
      return { kind: `${kind}:${key}`, bytes: frameBytes(packValue(w)), ...SKIPPED };
    }
    case 'missing-key': {
      const w = wire(rand, eventName);
      delete w[pick(['event_name', 'timestamp_ms', 'timestamp_iso', 'message_type', 'data'])];
      return { kind, bytes: frameBytes(packValue(w)), ...SKIPPED };
    }
    case 'non-string-key': {
      // {1: "x"} nested in data: a map key Python's strict_map_key refuses, so do we
      const head = packValue({ ...wire(rand, eventName), data: { inner: 0 } });
      const payload = Buffer.concat([
        head.subarray(0, head.length - 7),
        Buffer.from([0x81, 0xa5, ...Buffer.from('inner'), 0x81, 0x01, 0xa1, 0x78]),
      ]);
      return { kind, bytes: frameBytes(payload), ...SKIPPED };
    }
    case 'deep-nesting': {
      const depth = 50000;
      const head = packValue({ ...wire(rand, eventName), data: { deep: 0 } });
      const nest = Buffer.alloc(depth + 1, 0x91);
      nest[depth] = 0xc0;
      const payload = Buffer.concat([head.subarray(0, head.length - 1), nest]);
      return { kind, bytes: frameBytes(payload), ...SKIPPED };
    }
    case 'bad-event-name': {
      const w = wire(rand, eventName);
      w.event_name = pick(['../x', 'a/b', '', 'x'.repeat(65), 'ünï', 'sp ace', '..', '/etc/passwd']);
      return { kind, bytes: frameBytes(packValue(w)), ...SKIPPED };
    }
    default:
      return { kind, bytes: frameBytes(packValue(pick([[1, 2, 3], 'str', 7, null, true]))), ...SKIPPED };
  }
}

async function runCase(
  t: TransportFactory,
  server: Parameters<TransportFactory['raw']>[0],
  c: Case,
  probe: number,
): Promise<SocketMessage | undefined> {
  const sock = await t.raw(server);
  const all = readAll(sock);
  sock.end(
    c.skipped === true
      ? Buffer.concat([c.bytes, encodeFrame(createMessage(server.eventName, 'data', { probe }))])
      : c.bytes,
  );
  const bytes = await all;
  sock.destroy();
  const out = new FrameDecoder({ maxMessageSize: 1 << 20 }).push(bytes);
  // A NATS raw peer says hello (NATS requires it), so it gets a welcome first, and, registered at once, it may get
  // the test's own live broadcasts ({seq}) sent between batches: neither is a reply to the case.
  return out.filter((m) => m.messageType !== 'control' && !(m.messageType === 'data' && 'seq' in m.data)).at(-1);
}

describeTransports('hostile input fuzz', (t) => {
  const name = t.name;
  it(
    `${CASES[name] as number} seeded cases (seed ${SEED}): broken framing gets an ERROR and ` +
      'is closed, invalid messages are skipped; the server and a good client carry on',
    async () => {
      const server = t.server({ maxConnections: PARALLEL + 4 });
      await server.start();
      const good = t.client(server, { bufferSize: 100000 });
      await good.connect({ waitForWelcome: true });
      const received: number[] = [];
      good.on('message', (m) => received.push(m.data.seq as number));
      const rand = prng(SEED + (name === 'tcp' ? 1 : 0));
      const cases = Array.from({ length: CASES[name] as number }, (_, i) => makeCase(i, rand, server.eventName));
      const errors: Error[] = [];
      server.on('error', (e) => errors.push(e));
      const probes = new Set<number>();
      server.on('message', (m) => {
        if (typeof m.data.probe === 'number') probes.add(m.data.probe);
      });
      const byKind = new Map<string, number>();
      const failures: string[] = [];
      // baseline after a warm-up tenth of the cases (JIT, buffers, pools), then peak over the rest
      const warmup = Math.ceil(cases.length / 10 / PARALLEL) * PARALLEL;
      let rssBefore = process.memoryUsage().rss;
      let peakRss = rssBefore;
      let seq = 0;
      for (let i = 0; i < cases.length; i += PARALLEL) {
        if (i === warmup) peakRss = rssBefore = process.memoryUsage().rss;
        const batch = cases.slice(i, i + PARALLEL);
        const replies = await Promise.all(batch.map((c, k) => runCase(t, server, c, i + k)));
        replies.forEach((reply, k) => {
          const c = batch[k] as Case;
          const code = reply?.data.code as string | undefined;
          byKind.set(c.kind.split(':')[0] as string, (byKind.get(c.kind.split(':')[0] as string) ?? 0) + 1);
          const ok =
            c.codes.length === 0
              ? reply === undefined && (c.skipped !== true || probes.has(i + k))
              : reply?.messageType === 'error' && code !== undefined && c.codes.includes(code);
          // Random bytes may happen to end on a frame boundary: then nothing is owed.
          if (!ok && !(c.kind === 'random-bytes' && reply === undefined)) {
            failures.push(
              `case ${i + k} (${c.kind}): ` +
                `got ${reply === undefined ? 'nothing' : `${reply.messageType} ${String(code)}`}` +
                `${c.skipped === true && !probes.has(i + k) ? ', probe not delivered' : ''}`,
            );
          }
        });
        expect(server.isRunning()).toBe(true);
        server.send({ seq: seq++ });
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }
      await until(() => received.length === seq, 'good client received every broadcast');
      expect(failures).toEqual([]);
      expect(received).toEqual(Array.from({ length: seq }, (_, i) => i));
      expect(server.getConnectedClients()).toHaveLength(1);
      const growthMiB = (peakRss - rssBefore) / 2 ** 20;
      expect(growthMiB).toBeLessThan(64);
      const skipped = cases.filter((c) => c.skipped === true).length;
      expect(
        errors.filter((e) => (e as { code?: string }).code === ErrorCode.INVALID_MESSAGE).length,
      ).toBeGreaterThanOrEqual(skipped);
      expect(
        errors.every((e) =>
          ([ErrorCode.INVALID_MESSAGE, ...EITHER] as string[]).includes((e as { code?: string }).code as string),
        ),
      ).toBe(true);
      onCleanup(() => undefined);
      record(`fuzz-${name}`, {
        seed: SEED,
        cases: cases.length,
        skippedAndProbeDelivered: skipped,
        byKind: Object.fromEntries(byKind),
        goodClientReceived: received.length,
        rssGrowthMiB: Number(growthMiB.toFixed(1)),
      });
    },
  );
});

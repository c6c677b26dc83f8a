// Interleaved A/B of the server's statistics counters (issue 17): two unix
// servers in ONE process, one with `collectStats: true` (the default) and one
// with `collectStats: false`, each broadcasting to the same number of raw
// clients that only count frames (no decode, so the server's cost is what
// is measured). Rounds alternate A, B, A, B, ...; the figure is the median
// over 7 rounds of (time with stats ÷ time without). Separate runs on a
// shared machine differ by far more than the 3% this must show.
//
//   node bench/dist/stats-ab.js [--rounds 7] [--messages 20000] [--clients 10]
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame } from '@socketkit/codec';
import { MessageType, createMessage } from '@socketkit/protocol';
import { UnixSocketServer } from '@socketkit/unix';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const ROUNDS = Number(args.get('rounds') ?? 7);
const MESSAGES = Number(args.get('messages') ?? 20_000);
const CLIENTS = Number(args.get('clients') ?? 10);
const PAYLOAD = { seq: 0, payload: 'x'.repeat(100) };

/** A raw client: says hello, then counts whole frames from their length prefixes. */
class Counter {
  frames = 0;
  #need = 4;
  #inHeader = true;
  #header = Buffer.alloc(4);
  #fill = 0;
  #waiter: { target: number; resolve: () => void } | undefined;
  constructor(readonly sock: Socket) {
    sock.on('data', (chunk: Buffer) => this.#feed(chunk));
  }
  #feed(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#inHeader) {
        const take = Math.min(this.#need, chunk.length - i);
        chunk.copy(this.#header, this.#fill, i, i + take);
        this.#fill += take;
        this.#need -= take;
        i += take;
        if (this.#need === 0) {
          this.#inHeader = false;
          this.#need = this.#header.readUInt32BE(0);
          this.#fill = 0;
          if (this.#need === 0) this.#startHeader();
        }
      } else {
        const take = Math.min(this.#need, chunk.length - i);
        this.#need -= take;
        i += take;
        if (this.#need === 0) this.#startHeader();
      }
    }
    if (this.#waiter !== undefined && this.frames >= this.#waiter.target) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w.resolve();
    }
  }
  #startHeader(): void {
    this.frames++;
    this.#inHeader = true;
    this.#need = 4;
    this.#fill = 0;
  }
  until(target: number): Promise<void> {
    if (this.frames >= target) return Promise.resolve();
    return new Promise((resolve) => (this.#waiter = { target, resolve }));
  }
}

async function side(dir: string, event: string, collectStats: boolean) {
  const server = new UnixSocketServer({ eventName: event, socketDir: dir, logLevel: 'silent', collectStats, maxConnections: CLIENTS });
  await server.start();
  const counters: Counter[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const sock = connect({ path: join(dir, `${event}.sock`) });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write(encodeFrame(createMessage(event, MessageType.CONTROL, { op: 'hello', protocol: 3 })));
    const c = new Counter(sock);
    counters.push(c);
    await c.until(1); // welcome
  }
  let sent = 0;
  return {
    server,
    async round(): Promise<number> {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < MESSAGES; i++) {
        PAYLOAD.seq = i;
        server.send(PAYLOAD);
        if (i % 1000 === 999) await server.drain();
      }
      sent += MESSAGES;
      await Promise.all(counters.map((c) => c.until(sent + 1)));
      return Number(process.hrtime.bigint() - t0) / 1e6;
    },
    async close() {
      for (const c of counters) c.sock.destroy();
      await server.stop();
    },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = mkdtempSync(join(tmpdir(), 'sk-stats-ab-'));
try {
  const on = await side(dir, 'ab_on', true);
  const off = await side(dir, 'ab_off', false);
  await on.round(); // warm-up both
  await off.round();
  const ratios: number[] = [];
  const onMs: number[] = [];
  const offMs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first so drift in machine load cancels out.
    let tOn: number;
    let tOff: number;
    if (r % 2 === 0) {
      tOn = await on.round();
      tOff = await off.round();
    } else {
      tOff = await off.round();
      tOn = await on.round();
    }
    onMs.push(tOn);
    offMs.push(tOff);
    ratios.push(tOn / tOff);
  }
  // The medians of each side's round times, compared: per-round ratios swing with the load of the moment.
  const ratio = median(onMs) / median(offMs);
  const perMsg = (ms: number) => ((ms * 1000) / (MESSAGES * CLIENTS)).toFixed(3);
  console.log(`stats cost A/B: ${ROUNDS} interleaved rounds, ${MESSAGES} broadcasts × ${CLIENTS} clients each (unix, raw counting clients)`);
  console.log(`  stats on : median ${median(onMs).toFixed(1)} ms/round (${perMsg(median(onMs))} µs per delivered message)`);
  console.log(`  stats off: median ${median(offMs).toFixed(1)} ms/round (${perMsg(median(offMs))} µs per delivered message)`);
  console.log(
    `  on ÷ off : ${ratio.toFixed(3)} (per-round ratios: ${ratios.map((x) => x.toFixed(3)).join(' ')}); target ≤ 1.03: ${ratio <= 1.03 ? 'met' : 'MISSED'}`,
  );
  await on.close();
  await off.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// The stats cost (issue 17): an interleaved A/B of the server's statistics
// counters. Two unix servers in ONE process, one with `collectStats: true`
// (the default) and one with `collectStats: false`, each broadcasting to the
// same number of raw clients that only count frames (no decode, so the
// server's cost is what is measured). Rounds alternate A, B, A, B, ...; the
// figure is the median round time with stats ÷ the median without. Separate
// runs on a shared machine differ by far more than the 3% this must show.
// Run alone by `bench:stats` (stats-ab.ts) and as the "stats cost" row of
// the full run (`--only stats`).
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFrame } from '@socketkit/codec';
import { MessageType, createMessage } from '@socketkit/protocol';
import { UnixSocketServer } from '@socketkit/unix';

/** The target: stats on ÷ off at most this. */
export const STATS_COST_TARGET = 1.03;

/** Sizes of one A/B. */
export interface StatsCostOptions {
  /** Measured rounds per side (default 7). */
  rounds?: number;
  /** Broadcasts per round (default 20,000). */
  messages?: number;
  /** Raw counting clients per server (default 10). */
  clients?: number;
}

/** Outcome of one A/B (`ok: false` with `error` when it could not run). */
export interface StatsCostResult {
  ok: boolean;
  error?: string;
  rounds: number;
  messages: number;
  clients: number;
  /** Median ms per round with stats on / off. */
  onMs: number;
  offMs: number;
  /** onMs ÷ offMs. */
  ratio: number;
  /** Per-round on ÷ off, in order. */
  roundRatios: number[];
}

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

async function side(dir: string, event: string, collectStats: boolean, messages: number, clients: number) {
  const server = new UnixSocketServer({
    eventName: event,
    socketDir: dir,
    logLevel: 'silent',
    collectStats,
    maxConnections: clients,
  });
  await server.start();
  const counters: Counter[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      const sock = connect({ path: join(dir, `${event}.sock`) });
      await new Promise<void>((resolve, reject) => sock.once('connect', () => resolve()).once('error', reject));
      sock.write(encodeFrame(createMessage(event, MessageType.CONTROL, { op: 'hello', protocol: 3 })));
      const c = new Counter(sock);
      counters.push(c);
      await c.until(1); // welcome
    }
  } catch (err) {
    for (const c of counters) c.sock.destroy();
    await server.stop();
    throw err;
  }
  let sent = 0;
  return {
    server,
    async round(): Promise<number> {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < messages; i++) {
        PAYLOAD.seq = i;
        server.send(PAYLOAD);
        if (i % 1000 === 999) await server.drain();
      }
      sent += messages;
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

/** Runs the interleaved A/B in this process. Never throws: a failure is `ok: false` with the error. */
export async function runStatsCost(options: StatsCostOptions = {}): Promise<StatsCostResult> {
  const rounds = options.rounds ?? 7;
  const messages = options.messages ?? 20_000;
  const clients = options.clients ?? 10;
  const result: StatsCostResult = {
    ok: false,
    rounds,
    messages,
    clients,
    onMs: NaN,
    offMs: NaN,
    ratio: NaN,
    roundRatios: [],
  };
  const dir = mkdtempSync(join(tmpdir(), 'sk-stats-ab-'));
  const sides: Array<Awaited<ReturnType<typeof side>>> = [];
  try {
    const on = await side(dir, 'ab_on', true, messages, clients);
    sides.push(on);
    const off = await side(dir, 'ab_off', false, messages, clients);
    sides.push(off);
    await on.round(); // warm-up both
    await off.round();
    const onMs: number[] = [];
    const offMs: number[] = [];
    for (let r = 0; r < rounds; r++) {
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
      result.roundRatios.push(tOn / tOff);
    }
    // The medians of each side's round times, compared: per-round ratios swing with the load of the moment.
    result.onMs = median(onMs);
    result.offMs = median(offMs);
    result.ratio = result.onMs / result.offMs;
    result.ok = true;
  } catch (err) {
    result.error = err instanceof Error ? err.message : String(err);
  } finally {
    for (const s of sides) await s.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  return result;
}

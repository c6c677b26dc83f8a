// Load scenario of issue 7: 50 clients (in 5 processes) receive a sustained
// broadcast for 30 s over a Unix socket. Every client must get every message
// exactly once and in order, and the server's memory must stay bounded.
// SOCKETKIT_LOAD_SECONDS shortens the run for local iteration (default 30).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { onCleanup, transports, until, type TransportFactory } from '@socketkit/conformance';
import { record } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const RECEIVERS = join(here, 'fixtures', 'load-receivers.mjs');
const unix = transports.find((t) => t.name === 'unix') as TransportFactory;

const SECONDS = Number(process.env.SOCKETKIT_LOAD_SECONDS ?? 30);
const PROCESSES = 5;
const CLIENTS_PER_PROCESS = 10;
const CLIENTS = PROCESSES * CLIENTS_PER_PROCESS;
/** Messages broadcast between two `await server.drain()`. */
const BATCH = 256;
const PAD = 'l'.repeat(64);
const MiB = 1024 * 1024;
/**
 * Bound on the server process's RSS growth during the run. What the server
 * itself may hold is small and bounded: drain() pacing keeps each client's
 * pending bytes near its socket's high-water mark plus one batch (~16 KiB +
 * 256 × ~170 B ≈ 60 KiB, ~3 MiB for 50 clients; asserted separately below),
 * and the hard cap would be maxPendingBytes (8 MiB) × 50 = 400 MiB. The rest
 * of the growth is V8 heap slack from ~1e6 short-lived messages (collected
 * lazily) inside the jest worker. A leak that kept every broadcast frame or
 * message object (30 s × ≥10k msg/s × ≥300 B) would cross 128 MiB.
 */
const RSS_GROWTH_BOUND = 128 * MiB;
/** Bound on bytes pending to any one client at a sample: high-water mark + one batch, with 4× margin. */
const PENDING_BOUND = 1 * MiB;

interface ClientSummary {
  received: number;
  gaps: number;
  backwards: number;
  total: number | undefined;
  firstBad?: unknown;
  closedEarly?: boolean;
}

interface Receiver {
  events: Array<{ ev: string; clients?: ClientSummary[]; code?: string; message?: string }>;
  exited: Promise<number | null>;
}

function spawnReceivers(cfg: object): Receiver {
  const child = spawn(process.execPath, [RECEIVERS, JSON.stringify(cfg)], {
    cwd: join(here, '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const r: Receiver = { events: [], exited: new Promise((resolve) => child.once('close', (code) => resolve(code))) };
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop() as string;
    for (const line of lines) if (line.startsWith('{')) r.events.push(JSON.parse(line) as Receiver['events'][number]);
  });
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await r.exited;
  });
  return r;
}

describe('sustained broadcast [unix]', () => {
  it(
    `${CLIENTS} clients in ${PROCESSES} processes receive a ${SECONDS} s broadcast: none lost, none reordered, ` +
      `server memory bounded`,
    async () => {
      // drainTimeout: this scenario is about lossless pacing, so a receiver process
      // starved of CPU for a moment slows the producer instead of being dropped as
      // a slow consumer (that policy has its own conformance tests).
      const server = unix.server({ maxConnections: CLIENTS + 10, drainTimeout: 60000 });
      await server.start();
      const socketDir = unix.addr(server).socketDir as string;
      const disconnects: string[] = [];
      server.on('clientDisconnected', (_id, reason) => disconnects.push(reason));

      const receivers = Array.from({ length: PROCESSES }, () =>
        spawnReceivers({ socketDir, eventName: server.eventName, clients: CLIENTS_PER_PROCESS }),
      );
      await until(
        () =>
          receivers.every((r) => r.events.some((e) => e.ev === 'ready')) &&
          server.getConnectedClients().length === CLIENTS,
        `${CLIENTS} clients connected`,
        30000,
      );

      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      let pendingPeak = 0;
      let samples = 0;
      const sampler = setInterval(() => {
        samples++;
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        for (const c of server.getConnectedClients()) pendingPeak = Math.max(pendingPeak, c.pendingBytes);
      }, 250);
      onCleanup(() => clearInterval(sampler));

      const started = Date.now();
      const deadline = started + SECONDS * 1000;
      let sent = 0;
      let short = 0; // sends that reached fewer than every client
      while (Date.now() < deadline) {
        for (let i = 0; i < BATCH; i++) {
          if (server.send({ seq: sent, pad: PAD }) !== CLIENTS) short++;
          sent++;
        }
        await server.drain();
        // drain() resolves in a microtask when nobody is behind: let timers and I/O run
        await new Promise((resolve) => setImmediate(resolve));
      }
      const duration = (Date.now() - started) / 1000;
      // (the receivers disconnect on their own once they have seen the end marker)
      const disconnectsDuringRun = [...disconnects];
      expect(server.send({ end: true, total: sent })).toBe(CLIENTS);
      await until(
        () => receivers.every((r) => r.events.some((e) => e.ev === 'done')),
        'every receiver saw the end of the stream',
        60000,
      );
      clearInterval(sampler);
      const codes = await Promise.all(receivers.map((r) => r.exited));

      const summaries = receivers.flatMap((r) => r.events.find((e) => e.ev === 'done')?.clients ?? []);
      const receiverErrors = receivers.flatMap((r) => r.events.filter((e) => e.ev === 'error'));
      const rssGrowth = rssPeak - rssBefore;
      record('load-sustained-broadcast-unix', {
        transport: 'unix',
        clients: CLIENTS,
        processes: PROCESSES,
        durationS: Number(duration.toFixed(1)),
        messagesSent: sent,
        msgsPerSecond: Math.round(sent / duration),
        deliveriesPerSecond: Math.round((sent * CLIENTS) / duration),
        perClientReceived: {
          min: Math.min(...summaries.map((s) => s.received)),
          max: Math.max(...summaries.map((s) => s.received)),
        },
        lostOrReordered: summaries.reduce((a, s) => a + s.gaps + s.backwards, 0),
        rssBeforeMiB: Number((rssBefore / MiB).toFixed(1)),
        rssPeakGrowthMiB: Number((rssGrowth / MiB).toFixed(1)),
        rssGrowthBoundMiB: RSS_GROWTH_BOUND / MiB,
        peakPendingBytesPerClient: pendingPeak,
        rssSamples: samples,
        sendsShortOfAllClients: short,
        serverDisconnectsDuringRun: disconnectsDuringRun.length,
      });

      expect(codes).toEqual(Array(PROCESSES).fill(0));
      expect(receiverErrors).toEqual([]);
      expect(disconnectsDuringRun).toEqual([]);
      expect(short).toBe(0);
      expect(sent).toBeGreaterThan(0);
      expect(summaries).toHaveLength(CLIENTS);
      for (const s of summaries) expect(s).toEqual({ received: sent, gaps: 0, backwards: 0, total: sent });
      // the sampler really ran during the broadcast (≈ 4 per second)
      expect(samples).toBeGreaterThanOrEqual(Math.floor(SECONDS * 2));
      expect(pendingPeak).toBeLessThanOrEqual(PENDING_BOUND);
      expect(rssGrowth).toBeLessThan(RSS_GROWTH_BOUND);
    },
  );
});

// Fault scenarios of issue 7: peers and servers killed with SIGKILL, a
// reconnect storm after a restart, EPIPE / ECONNRESET during broadcast. Real
// sockets and real processes; assertions are on counts, order and bounds.
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { encodeFrame } from '@socketkit/codec';
import { onCleanup, tempDir, transports, uniqueEvent, until, type TransportFactory } from '@socketkit/conformance';
import type { SocketClient } from '@socketkit/core';
import { createMessage, type SocketMessage } from '@socketkit/protocol';
import { TcpSocketClient } from '@socketkit/tcp';
import { UnixSocketClient, type UnixSocketServer } from '@socketkit/unix';
import { record } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(here, 'fixtures');
const PKG = join(here, '..');
// The socket transports this suite is about (the harness may list others).
const socketTransports = transports.filter((t) => t.name === 'unix' || t.name === 'tcp');
const eachTransport = socketTransports.map((t) => [t.name, t] as const);
const unix = socketTransports.find((t) => t.name === 'unix') as TransportFactory;

type Event = Record<string, unknown> & { ev?: string };

interface Proc {
  child: ChildProcess;
  /** Every stdout line. */
  lines: string[];
  /** stdout lines that are JSON objects. */
  events: Event[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Writes one JSON command line to the child's stdin. */
  cmd(command: object): void;
  /** Resolves with the first event matching `pred` (already seen or future). */
  event(pred: (e: Event) => boolean, what: string, limitMs?: number): Promise<Event>;
}

/** Spawns a node fixture with its config as JSON in argv[2]; killed (SIGKILL) after the test if still running. */
function spawnFixture(name: string, cfg: object): Proc {
  const child = spawn(process.execPath, [join(FIXTURES, name), JSON.stringify(cfg)], {
    cwd: PKG,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const events: Event[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const parts = partial.split('\n');
    partial = parts.pop() as string;
    for (const line of parts) {
      lines.push(line);
      if (line.startsWith('{')) events.push(JSON.parse(line) as Event);
    }
  });
  child.stdin?.on('error', () => undefined); // the child may be dead already
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return {
    child,
    lines,
    events,
    exited,
    cmd: (command) => child.stdin?.write(`${JSON.stringify(command)}\n`),
    async event(pred, what, limitMs = 15000) {
      await until(() => events.some(pred) || child.exitCode !== null || child.signalCode !== null, what, limitMs);
      const e = events.find(pred);
      if (e === undefined)
        throw new Error(
          `${name} exited (code ${String(child.exitCode)}, signal ${String(child.signalCode)}) before: ${what}`,
        );
      return e;
    },
  };
}

function stats(values: number[]): { min: number; max: number; mean: number; stdev: number; distinct: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const stdev = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return {
    min: Math.min(...values),
    max: Math.max(...values),
    mean: Number(mean.toFixed(2)),
    stdev: Number(stdev.toFixed(2)),
    distinct: new Set(values).size,
  };
}

/** Connects to a socket path once: 'connected', or the error code (ECONNREFUSED for a stale socket file). */
function probe(path: string): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection({ path });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const silent = { logLevel: 'silent', envFile: false } as const;

describe.each(eachTransport)('a client SIGKILLed in the middle of a frame [%s]', (name, t) => {
  it(
    'the server stays up, drops that connection, and another client receives every broadcast before and after, in ' +
      'order',
    async () => {
      const server = t.server();
      await server.start();
      const serverErrors: string[] = [];
      const connected: string[] = [];
      const disconnected = new Map<string, string>();
      server.on('error', (e) => serverErrors.push((e as { code?: string }).code ?? e.message));
      server.on('clientConnected', (id) => connected.push(id));
      server.on('clientDisconnected', (id, reason) => disconnected.set(id, reason));

      const good = t.client(server);
      const got: unknown[] = [];
      good.on('message', (m) => got.push(m.data.seq));
      await good.connect({ waitForWelcome: true });
      const goodId = good.welcome?.clientId as string;

      let seq = 0;
      const burst = (n: number): void => {
        for (let i = 0; i < n; i++) server.send({ seq: seq++ });
      };
      const addr = t.addr(server);
      const target = addr.kind === 'unix' ? { path: (server as UnixSocketServer).socketPath } : { port: addr.port };
      const frame = encodeFrame(createMessage(server.eventName, 'data', { blob: 'x'.repeat(2000) }));
      // cut inside the length prefix, half-way through the payload, one byte short of the end
      const cuts = [2, 4 + Math.floor((frame.length - 4) / 2), frame.length - 1];
      const reasons: string[] = [];

      burst(100);
      for (const cut of cuts) {
        const before = connected.length;
        const peer = spawnFixture('fault-half-frame.mjs', { ...target, frame: frame.toString('base64'), cut });
        await until(() => connected.length > before, 'the doomed peer is registered');
        const id = connected[before] as string;
        burst(100); // it reads the first chunk of these, then writes its half frame and dies
        const { signal } = await peer.exited;
        expect(signal).toBe('SIGKILL');
        expect(peer.lines).toContain('connected');
        await until(() => disconnected.has(id), `clientDisconnected for the killed peer ${id}`);
        reasons.push(disconnected.get(id) as string);
        expect(server.isRunning()).toBe(true);
      }
      burst(100);

      await until(() => got.length >= seq, `the surviving client received all ${seq} messages`);
      expect(got).toEqual(range(seq));
      expect(server.isRunning()).toBe(true);
      expect(server.getConnectedClients().map((c) => c.id)).toEqual([goodId]);
      expect(disconnected.has(goodId)).toBe(false);
      record(`fault-sigkill-mid-frame-${name}`, {
        peersKilled: cuts.length,
        frameBytes: frame.length,
        cutAtBytes: cuts,
        disconnectReasons: reasons,
        serverErrorCodes: serverErrors,
        broadcast: seq,
        survivorReceived: got.length,
        survivorOutOfOrder: 0,
      });
    },
  );
});

describe('a server SIGKILLed and restarted [unix]', () => {
  it(
    'stale socket recovered, clients reconnect with backoff, messages queued with no client are delivered exactly ' +
      'once',
    async () => {
      const N = 5;
      const QUEUED = 3;
      const socketDir = tempDir();
      const eventName = uniqueEvent('restart');
      const path = join(socketDir, `${eventName}.sock`);
      const serverCfg = { kind: 'unix', eventName, socketDir, maxConnections: 10 };

      const first = spawnFixture('fault-server.mjs', serverCfg);
      await first.event((e) => e.ev === 'listening', 'first server listening');

      interface Watched {
        client: SocketClient;
        received: SocketMessage[];
        delays: number[];
        attempts: number[];
        errors: string[];
        disconnects: number;
      }
      const clients: Watched[] = range(N).map(() => {
        const client = new UnixSocketClient({
          eventName,
          socketDir,
          ...silent,
          reconnect: { initialDelay: 50, maxDelay: 500 },
        });
        onCleanup(() => client.disconnect());
        const w: Watched = { client, received: [], delays: [], attempts: [], errors: [], disconnects: 0 };
        client.on('message', (m) => w.received.push(m));
        client.on('reconnecting', (attempt, delay) => {
          w.attempts.push(attempt);
          w.delays.push(delay);
        });
        client.on('error', (e) => w.errors.push((e as { code?: string }).code ?? e.message));
        client.on('disconnected', () => w.disconnects++);
        return w;
      });
      await Promise.all(clients.map((w) => w.client.connect({ waitForWelcome: true })));
      await until(
        () => first.events.filter((e) => e.ev === 'connected').length === N,
        `${N} clients on the first server`,
      );
      first.cmd({ cmd: 'send', data: { phase: 'before' } });
      await until(
        () => clients.every((w) => w.received.length === 1),
        'every client got the message sent before the kill',
      );

      first.child.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');
      await until(() => clients.every((w) => w.disconnects === 1), 'every client saw the disconnect');
      // kill -9 left the socket file behind: nobody accepts on it any more
      expect(lstatSync(path).isSocket()).toBe(true);
      expect(await probe(path)).toBe('ECONNREFUSED');
      // let every client back off a few times against the stale socket (ECONNREFUSED)
      await until(() => clients.every((w) => w.attempts.length >= 3), 'every client retried 3 times', 10000);

      const second = spawnFixture('fault-server.mjs', { ...serverCfg, queueOnStart: QUEUED });
      const listening = await second.event(
        (e) => e.ev === 'listening',
        'restarted server listening (stale socket recovered)',
      );
      // (no probe connection here: it would be the first client and take the queue)
      await until(
        () =>
          clients.every((w) => w.client.isConnected()) &&
          second.events.filter((e) => e.ev === 'connected').length === N,
        `all ${N} clients reconnected`,
        15000,
      );
      // a broadcast after everyone is back: each connection delivers in order, so
      // once every client has it, any queued message sent to it has arrived too
      second.cmd({ cmd: 'send', data: { phase: 'after' } });
      await until(
        () => clients.every((w) => w.received.some((m) => m.data.phase === 'after')),
        'every reconnected client got the post-restart broadcast',
      );

      const queuedPerClient = clients.map((w) =>
        w.received.filter((m) => 'queued' in m.data).map((m) => m.data.queued),
      );
      const connectedAtSend = listening.connectedAtSend as number;
      if (connectedAtSend === 0) {
        // the usual case: the sends happened before any client was back, so they were queued ...
        expect(listening.queued).toBe(QUEUED);
        // ... and the whole queue went, in order, to exactly one client (the first to connect), then was cleared
        expect(queuedPerClient.flat()).toHaveLength(QUEUED);
        expect(queuedPerClient.filter((q) => q.length > 0)).toEqual([range(QUEUED)]);
      } else {
        // a client slipped in between listen() and start() resolving: the messages were
        // broadcast to the clients connected then (not queued), once each
        expect(listening.queued).toBe(0);
        expect(queuedPerClient.flat()).toHaveLength(QUEUED * connectedAtSend);
        for (const q of queuedPerClient) expect(q.length === 0 || q.join() === range(QUEUED).join()).toBe(true);
      }
      for (const w of clients) {
        expect(w.received.filter((m) => m.data.phase === 'before')).toHaveLength(1);
        expect(w.received.filter((m) => m.data.phase === 'after')).toHaveLength(1);
        // one CONNECTION_LOST per outage, nothing else (issue 23 item 4: a lost server is never silent)
        expect(w.errors).toEqual(['CONNECTION_LOST']);
        // attempts count up from 1 with no gap; attempt k waits min(50 × 2^(k-1), 500) ms ± 25 %
        expect(w.attempts).toEqual(range(w.attempts.length).map((i) => i + 1));
        w.delays.forEach((d, i) => {
          const base = Math.min(50 * 2 ** i, 500);
          expect(d).toBeGreaterThanOrEqual(Math.floor(base * 0.75));
          expect(d).toBeLessThanOrEqual(Math.ceil(base * 1.25));
        });
      }
      const attempts = clients.map((w) => [...w.attempts]);
      const delays = clients.map((w) => [...w.delays]);
      await Promise.all(clients.map((w) => w.client.disconnect()));
      second.cmd({ cmd: 'exit' });
      expect((await second.exited).code).toBe(0);
      const bye = second.events.find((e) => e.ev === 'bye');
      expect(bye?.uncaught).toEqual([]);
      record('fault-server-sigkill-restart', {
        clients: N,
        staleSocketLeftByKill: true,
        staleSocketReplaced: true,
        queuedOnRestart: listening.queued,
        clientsConnectedWhenQueued: connectedAtSend,
        queuedDeliveredTotal: queuedPerClient.flat().length,
        queuedDeliveredPerClient: queuedPerClient.map((q) => q.length),
        reconnectAttemptsPerClient: attempts.map((a) => a.length),
        reconnectDelaysMs: delays,
      });
    },
  );
});

describe('50 clients reconnecting at once after a restart [unix]', () => {
  const N = 50;
  const MAX_RETRIES = 30;

  it('retry delays are spread by jitter (no lockstep) and all reconnect without giving up', async () => {
    const server = unix.server({ maxConnections: 60 });
    await server.start();
    const watched = range(N).map(() => {
      const client = unix.client(server, {
        reconnect: { initialDelay: 100, maxDelay: 1000, jitter: 0.25, maxRetries: MAX_RETRIES },
      });
      const w = { client, attempts: [] as number[], delays: [] as number[], errors: [] as string[] };
      client.on('reconnecting', (attempt, delay) => {
        w.attempts.push(attempt);
        w.delays.push(delay);
      });
      client.on('error', (e) => w.errors.push((e as { code?: string }).code ?? e.message));
      return w;
    });
    await Promise.all(watched.map((w) => w.client.connect({ waitForWelcome: true })));
    expect(server.getConnectedClients()).toHaveLength(N);

    await server.stop();
    // a few failed attempts each (the socket file is gone: SOCKET_NOT_FOUND) before the restart
    await until(() => watched.every((w) => w.attempts.length >= 3), 'every client on its 3rd attempt', 10000);
    const connectTimes: number[] = [];
    server.on('clientConnected', () => connectTimes.push(Date.now()));
    const restartedAt = Date.now();
    await server.start();
    await until(
      () => server.getConnectedClients().length === N && watched.every((w) => w.client.isConnected()),
      `all ${N} clients back`,
      15000,
    );

    const firstDelays = watched.map((w) => w.delays[0] as number);
    const secondDelays = watched.map((w) => w.delays[1] as number);
    const first = stats(firstDelays);
    const second = stats(secondDelays);
    // lockstep would be one value with stdev 0. Delays are integers in [75, 125]:
    // 50 draws from 51 values give ~32 distinct on average (fewer than 20 is ~5 sd away).
    expect(first.min).toBeGreaterThanOrEqual(75);
    expect(first.max).toBeLessThanOrEqual(125);
    expect(first.distinct).toBeGreaterThanOrEqual(20);
    expect(first.stdev).toBeGreaterThan(5);
    // second attempt: 200 ms ± 25 %
    expect(second.min).toBeGreaterThanOrEqual(150);
    expect(second.max).toBeLessThanOrEqual(250);
    expect(second.stdev).toBeGreaterThan(10);
    for (const w of watched) {
      expect(w.errors).toEqual(['CONNECTION_LOST']); // the one report of the outage
      expect(w.attempts).toEqual(range(w.attempts.length).map((i) => i + 1));
      expect(w.attempts.length).toBeLessThan(MAX_RETRIES);
    }
    const attempts = watched.map((w) => w.attempts.length);
    record('fault-reconnect-storm', {
      clients: N,
      backoff: { initialDelay: 100, maxDelay: 1000, jitter: 0.25, maxRetries: MAX_RETRIES },
      firstDelayMs: first,
      secondDelayMs: second,
      attemptsPerClient: { min: Math.min(...attempts), max: Math.max(...attempts) },
      reconnectSpreadAfterRestartMs: Math.max(...connectTimes) - Math.min(...connectTimes),
      lastReconnectAfterRestartMs: Math.max(...connectTimes) - restartedAt,
      giveUpErrors: 0,
    });
  });

  it('with the server gone for good, every client makes exactly maxRetries attempts before giving up', async () => {
    const RETRIES = 5;
    const server = unix.server({ maxConnections: 60 });
    await server.start();
    const watched = range(N).map(() => {
      const client = unix.client(server, {
        reconnect: { initialDelay: 10, maxDelay: 40, jitter: 0.25, maxRetries: RETRIES },
      });
      const w = {
        client,
        attempts: [] as number[],
        errors: [] as Array<{ code?: string; message: string }>,
        attemptsAtError: -1,
      };
      client.on('reconnecting', (attempt) => w.attempts.push(attempt));
      client.on('error', (e) => {
        w.errors.push({ code: (e as { code?: string }).code, message: e.message });
        if (w.attemptsAtError < 0 && (e as { code?: string }).code === 'RECONNECT_FAILED')
          w.attemptsAtError = w.attempts.length;
      });
      return w;
    });
    await Promise.all(watched.map((w) => w.client.connect({ waitForWelcome: true })));
    await server.stop();
    await until(() => watched.every((w) => w.errors.length > 1), 'every client gave up', 10000);
    for (const w of watched) {
      expect(w.attemptsAtError).toBe(RETRIES);
      expect(w.attempts).toEqual(range(RETRIES).map((i) => i + 1));
      // the one CONNECTION_LOST when the server was lost, then RECONNECT_FAILED (issue 23 item 4)
      expect(w.errors.map((e) => e.code)).toEqual(['CONNECTION_LOST', 'RECONNECT_FAILED']);
      expect(w.errors[1]?.message).toContain(`${RETRIES} attempts`);
    }
    record('fault-reconnect-give-up', {
      clients: N,
      maxRetries: RETRIES,
      attemptsBeforeGivingUp: RETRIES,
      gaveUpEarly: 0,
    });
  });
});

describe.each(eachTransport)('EPIPE / ECONNRESET during broadcast [%s]', (name, t) => {
  it(
    'peers destroyed, reset and SIGKILLed mid-stream never crash the server process; a surviving client gets every ' +
      'message in order',
    async () => {
      const WAVES = 4;
      const RAW_PER_WAVE = 6;
      const KILLED_PER_WAVE = 2;
      const PER_WAVE = RAW_PER_WAVE + KILLED_PER_WAVE;
      const eventName = uniqueEvent('epipe');
      const socketDir = t.name === 'unix' ? tempDir() : undefined;
      // The server runs in its own process: there, 'uncaughtException' listeners are real
      // (in a jest test file `process` is a sandbox copy, and jest would fail the test instead).
      // drainTimeout: the survivor must never be dropped as a slow consumer because this box is busy;
      // victims that stop reading are killed right away, so drain() never waits long on them.
      const srv = spawnFixture('fault-server.mjs', {
        kind: t.name,
        eventName,
        socketDir,
        maxConnections: 64,
        drainTimeout: 30000,
      });
      const listening = await srv.event((e) => e.ev === 'listening', 'broadcaster listening');
      const port = listening.port as number | undefined;
      const target: { path: string } | { port: number } =
        t.name === 'unix' ? { path: listening.socketPath as string } : { port: port as number };

      const survivor: SocketClient =
        t.name === 'unix'
          ? new UnixSocketClient({ eventName, socketDir, ...silent, autoReconnect: false })
          : new TcpSocketClient({ eventName, port, ...silent, autoReconnect: false });
      onCleanup(() => survivor.disconnect());
      let expected = 0;
      let outOfOrder = 0;
      survivor.on('message', (m) => {
        if ('after' in m.data) {
          expected = -1;
          return;
        }
        if (m.data.seq !== expected) outOfOrder++;
        expected = (m.data.seq as number) + 1;
      });
      await survivor.connect({ waitForWelcome: true });
      await srv.event((e) => e.ev === 'connected', 'survivor registered');

      srv.cmd({ cmd: 'stream', payloadBytes: 256, drainEvery: 32 });
      await until(() => expected > 1000, 'the broadcast is flowing');

      const connectedCount = (): number => srv.events.filter((e) => e.ev === 'connected').length;
      const disconnectedCount = (): number => srv.events.filter((e) => e.ev === 'disconnected').length;
      for (let wave = 0; wave < WAVES; wave++) {
        const raws = await Promise.all(
          range(RAW_PER_WAVE).map(
            () =>
              new Promise<{ socket: Socket; bytes: number }>((resolve, reject) => {
                const socket =
                  'path' in target
                    ? createConnection({ path: target.path })
                    : createConnection({ host: '127.0.0.1', port: target.port });
                const r = { socket, bytes: 0 };
                socket.on('data', (c: Buffer) => (r.bytes += c.length));
                socket.on('error', () => undefined);
                socket.once('connect', () => resolve(r));
                socket.once('error', reject);
                onCleanup(() => {
                  socket.destroy();
                });
              }),
          ),
        );
        const killed = range(KILLED_PER_WAVE).map((i) =>
          spawnFixture('fault-client.mjs', { kind: t.name, eventName, socketDir, port, readSlowly: i % 2 === 1 }),
        );
        await until(
          () => connectedCount() === 1 + (wave + 1) * PER_WAVE,
          `wave ${wave}: all ${PER_WAVE} victims registered (a raw victim is in its registration grace: drain() must ` +
            `wait for it, not cut it off)`,
        );
        // mid-stream: every victim is receiving the broadcast
        await until(
          () => raws.every((r) => r.bytes >= 64 * 1024) && killed.every((k) => k.lines.includes('streaming')),
          `wave ${wave}: victims are mid-stream`,
        );
        raws.forEach((r, i) => {
          if (i % 3 === 0) {
            r.socket.pause(); // unread data in the buffer, then an abrupt close
            if (t.name === 'tcp') r.socket.resetAndDestroy();
            else r.socket.destroy();
          } else if (i % 3 === 1) {
            r.socket.destroy();
          } else {
            r.socket.end(); // half-close while the server is writing, then gone
            setImmediate(() => r.socket.destroy());
          }
        });
        for (const k of killed) k.child.kill('SIGKILL');
        await until(
          () => disconnectedCount() === (wave + 1) * PER_WAVE,
          `wave ${wave}: the server dropped all ${PER_WAVE} victims`,
        );
        expect(survivor.isConnected()).toBe(true);
      }

      srv.cmd({ cmd: 'halt' });
      const halted = await srv.event((e) => e.ev === 'halted', 'broadcast halted');
      const sent = halted.sent as number;
      await until(() => expected === sent, `the survivor received all ${sent} messages`, 30000);
      expect(outOfOrder).toBe(0);
      // still serving after the storm
      srv.cmd({ cmd: 'send', data: { after: true } });
      await until(() => expected === -1, 'the survivor got a message sent after the storm');
      expect((await srv.event((e) => e.ev === 'sent', 'sent after the storm')).n).toBe(1);

      srv.cmd({ cmd: 'exit' });
      const { code, signal } = await srv.exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      const uncaught = srv.events.filter((e) => e.ev === 'uncaught');
      expect(uncaught).toEqual([]);
      expect(srv.events.find((e) => e.ev === 'bye')?.uncaught).toEqual([]);
      const reasons = srv.events.filter((e) => e.ev === 'disconnected').map((e) => String(e.reason));
      const byReason: Record<string, number> = {};
      for (const r of reasons) byReason[r] = (byReason[r] ?? 0) + 1;
      // the scenario really produced write/read errors on dead peers
      expect(reasons.some((r) => /EPIPE|ECONNRESET/.test(r))).toBe(true);
      record(`fault-epipe-econnreset-${name}`, {
        waves: WAVES,
        victims: WAVES * PER_WAVE,
        rawSocketsClosed: WAVES * RAW_PER_WAVE,
        clientProcessesKilled: WAVES * KILLED_PER_WAVE,
        disconnectReasons: byReason,
        broadcast: sent,
        survivorReceived: sent,
        survivorOutOfOrder: outOfOrder,
        uncaughtExceptions: uncaught.length,
        serverExitCode: code,
      });
    },
  );
});

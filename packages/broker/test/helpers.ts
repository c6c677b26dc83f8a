import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, natsBinary, startNatsServer } from '@socketkit/test-support';
import {
  type Broker,
  type BrokerOptions,
  type Communicator,
  type ConnectOptions,
  connect,
  startBroker,
} from '../src/index.js';

export { freePort, natsBinary };

/** Transports every "must hold" test runs on. */
export const TRANSPORTS = ['unix', 'tcp', 'nats'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** Fast heartbeats: a frozen worker loses its leases after 1.2 s (generous enough for a loaded machine). */
export const HEARTBEAT = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1200 };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A nats-server on a free loopback port. */
export function startNats(): Promise<{ url: string; stop(): Promise<void> }> {
  return startNatsServer();
}

/** Where a broker listens and how to reach it, per transport. */
export interface Endpoint {
  transport: Transport;
  /** Options for startBroker (without limits). */
  server: BrokerOptions;
  /** Options for connect. */
  client: ConnectOptions;
  /** After the broker started (tcp learns its port). */
  started(port: number | undefined): void;
  cleanup(): void;
}

let natsUrl: string | undefined;
/** Sets the NATS server the nats endpoints use (from a beforeAll). */
export function useNats(url: string | undefined): void {
  natsUrl = url;
}

let eventSeq = 0;
/** A fresh endpoint: private socket dir (unix), port 0 (tcp), a unique subject (nats). */
export function endpoint(transport: Transport): Endpoint {
  const dir = mkdtempSync(join(tmpdir(), 'skbroker-'));
  const eventName = `broker${process.pid}x${++eventSeq}`;
  const base = { transport, eventName, ...HEARTBEAT };
  const e: Endpoint = {
    transport,
    server: { ...base },
    client: { ...base },
    started: (port) => {
      if (transport === 'tcp') e.client.port = port;
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  if (transport === 'unix') {
    e.server.socketDir = dir;
    e.client.socketDir = dir;
  } else if (transport === 'tcp') {
    e.server.port = 0;
    e.server.host = '127.0.0.1';
    e.client.host = '127.0.0.1';
  } else {
    e.server.servers = natsUrl;
    e.client.servers = natsUrl;
  }
  return e;
}

/** One line of a fixture's output. */
export type Event = Record<string, unknown> & { ev: string; pid: number };

/** A fixture process (test/fixture.mjs) and the events it printed. */
export interface Child {
  proc: ChildProcess;
  events: Event[];
  /** Resolves with the first event (past or future) matching. */
  waitFor(pred: (e: Event) => boolean, timeoutMs?: number): Promise<Event>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  /** True until the process exited. */
  alive(): boolean;
}

const children = new Set<Child>();
const FIXTURE = fileURLToPath(new URL('./fixture.mjs', import.meta.url));

/** Starts a fixture with `config` (see test/fixture.mjs). */
export function fixture(config: Record<string, unknown>): Child {
  return eventFixture(FIXTURE, config, { SOCKET_LOG_LEVEL: 'silent' }, 15_000);
}

/**
 * Starts the fixture program `file` with `config` as JSON in argv[2]; each line it prints is an event. Killed by
 * {@link killAll}.
 */
export function eventFixture(
  file: string,
  config: Record<string, unknown>,
  env: Record<string, string> = {},
  defaultWaitMs = 15_000,
): Child {
  const proc = spawn(process.execPath, [file, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  const events: Event[] = [];
  const waiters = new Set<{ pred: (e: Event) => boolean; resolve(e: Event): void }>();
  createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    let e: Event;
    try {
      e = JSON.parse(line) as Event;
    } catch {
      return;
    }
    events.push(e);
    for (const w of [...waiters])
      if (w.pred(e)) {
        waiters.delete(w);
        w.resolve(e);
      }
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const child: Child = {
    proc,
    events,
    exited,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    kill: (signal = 'SIGKILL') => {
      if (child.alive()) proc.kill(signal);
    },
    waitFor: (pred, timeoutMs = defaultWaitMs) => {
      const found = events.find(pred);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (e: Event) => {
            clearTimeout(timer);
            resolve(e);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(
            new Error(
              `fixture ${proc.pid}: no matching event within ${timeoutMs} ms (last: ` +
                `${JSON.stringify(events.slice(-3))})`,
            ),
          );
        }, timeoutMs);
        waiters.add(w);
        void exited.then(() => {
          if (!waiters.has(w)) return;
          setTimeout(() => {
            if (!waiters.has(w)) return;
            waiters.delete(w);
            clearTimeout(timer);
            reject(
              new Error(
                `fixture ${proc.pid} exited before a matching event (last: ${JSON.stringify(events.slice(-3))})`,
              ),
            );
          }, 50);
        });
      });
    },
  };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

/** Kills every fixture still running and waits for them. */
export async function killAll(): Promise<void> {
  const all = [...children];
  for (const c of all) {
    c.proc.kill('SIGCONT');
    c.kill('SIGKILL');
  }
  await Promise.all(all.map((c) => c.exited));
}

/** Polls `cond` every 10 ms until true (fails after `timeoutMs`). */
export async function until(cond: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** `describe.each` over the transports; NATS is skipped (and says so) without a nats-server. */
export function transportCases(): [string, Transport][] {
  return TRANSPORTS.map((t) => [
    t === 'nats' && natsBinary === undefined ? 'nats [skipped: no nats-server binary]' : t,
    t,
  ]);
}

/**
 * Starts a nats-server for the test file when the binary is installed (`beforeAll`), points the nats transport case
 * at it, and stops it after the file (`afterAll`).
 */
export function natsForThisFile(): void {
  let nats: { url: string; stop(): Promise<void> } | undefined;
  beforeAll(async () => {
    if (natsBinary !== undefined) nats = await startNats();
    useNats(nats?.url);
  });
  afterAll(async () => {
    await nats?.stop();
  });
}

/** One broker per test over a transport, with its communicators and worker processes (see {@link brokerCase}). */
export interface BrokerCase {
  /** The endpoint of the broker started by {@link BrokerCase.start} in this test. */
  readonly ep: Endpoint;
  /** The broker started by {@link BrokerCase.start} in this test. */
  readonly broker: Broker;
  /** Starts this test's broker with `limits` on top of the endpoint's options. */
  start(limits?: Record<string, unknown>): Promise<void>;
  /** A communicator connected to this test's broker (closed after the test). */
  client(): Promise<Communicator>;
  /** A worker fixture process connected to this test's broker, once it is ready (killed after the test). */
  worker(cfg?: Record<string, unknown>): Promise<Child>;
}

/**
 * The per-test set-up the process tests share: after each test, communicators closed, children killed, broker
 * stopped.
 */
export function brokerCase(transport: Transport): BrokerCase {
  let ep: Endpoint | undefined;
  let broker: Broker | undefined;
  const comms: Communicator[] = [];
  afterEach(async () => {
    await Promise.all(comms.splice(0).map((c) => c.close()));
    await killAll();
    await broker?.stop();
    ep?.cleanup();
    broker = undefined;
    ep = undefined;
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('start() the broker first');
    return v;
  };
  return {
    get ep() {
      return started(ep);
    },
    get broker() {
      return started(broker);
    },
    async start(limits = {}) {
      ep = endpoint(transport);
      broker = await startBroker({ ...ep.server, ...limits });
      ep.started(broker.port);
    },
    async client() {
      const c = await connect(started(ep).client);
      comms.push(c);
      return c;
    },
    async worker(cfg = {}) {
      const w = fixture({ role: 'worker', conn: started(ep).client, ...cfg });
      await w.waitFor((e) => e.ev === 'ready');
      return w;
    },
  };
}

import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { connect, type JetStreamCommunicator } from '../src/index.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitAccepting } from '@socketkit/test-support';
import { eventFixture, freePort, killAll, natsBinary } from './helpers.js';

export { natsBinary };

/** One nats-server with JetStream on (`-js -sd <tmpdir>`), restartable on the same ports and store. */
export interface JsNode {
  name: string;
  url: string;
  port: number;
  proc: ChildProcess | undefined;
  /** Starts (or restarts) the process and waits until it accepts clients. */
  start(): Promise<void>;
  /** SIGKILL (default) or SIGTERM, and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

async function node(name: string, dir: string, extra: string[], port: number, config?: string): Promise<JsNode> {
  const store = join(dir, name);
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store, '-n', name, ...extra];
  if (config !== undefined) {
    const file = join(dir, `${name}.conf`);
    writeFileSync(file, config, { mode: 0o600 });
    args.push('-c', file);
  }
  const n: JsNode = {
    name,
    url: `nats://127.0.0.1:${port}`,
    port,
    proc: undefined,
    start: async () => {
      const proc = spawn(natsBinary as string, args, { stdio: 'ignore' });
      n.proc = proc;
      await waitAccepting(port, proc, `nats-server ${name}`);
    },
    kill: async (signal = 'SIGKILL') => {
      const p = n.proc;
      if (p === undefined || p.exitCode !== null || p.signalCode !== null) return;
      p.kill(signal);
      await once(p, 'exit');
    },
  };
  return n;
}

/** A single JetStream node in a temp dir; `config` is extra nats-server config text (accounts, permissions). */
export async function startJetStream(config?: string): Promise<{ node: JsNode; url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'skjs-'));
  const n = await node('n1', dir, [], await freePort(), config);
  await n.start();
  return {
    node: n,
    url: n.url,
    stop: async () => {
      await n.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A cluster of `size` JetStream nodes with routes on loopback ports. */
export interface JsCluster {
  nodes: JsNode[];
  urls: string[];
  stop(): Promise<void>;
}

export async function startCluster(size = 3): Promise<JsCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'skjsc-'));
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const cports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = cports.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const nodes = await Promise.all(
    ports.map((p, i) =>
      node(
        `n${i + 1}`,
        dir,
        ['--cluster_name', 'sk', '--cluster', `nats://127.0.0.1:${cports[i]}`, '--routes', routes],
        p,
      ),
    ),
  );
  await Promise.all(nodes.map((n) => n.start()));
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    stop: async () => {
      await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let seq = 0;
/** A fresh namespace per test (streams, consumer, subjects, KV bucket of their own). */
export const namespace = (): string => `t${process.pid}x${++seq}`;

/** An event line of test/jetstream-fixture.mjs. */
export type JsEvent = Record<string, unknown> & { ev: string; pid: number; t: number };

/** A fixture process and the events it printed. */
export interface JsChild {
  proc: ChildProcess;
  events: JsEvent[];
  waitFor(pred: (e: JsEvent) => boolean, timeoutMs?: number): Promise<JsEvent>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
  alive(): boolean;
}

const FIXTURE = fileURLToPath(new URL('./jetstream-fixture.mjs', import.meta.url));

/** Starts test/jetstream-fixture.mjs with `config`. */
export function jsFixture(config: Record<string, unknown>): JsChild {
  return eventFixture(FIXTURE, config, {}, 20_000) as JsChild;
}

/** Kills every fixture still running and waits for them. */
export async function killFixtures(): Promise<void> {
  await killAll();
}

/** The nats-server of a test file and the communicators its tests open (see {@link jetStreamForThisFile}). */
export interface JetStreamFile {
  /** The server's URL (once `beforeAll` started it). */
  url(): string;
  /** A JetStream communicator named `name` (memory storage), closed after the test. */
  comm(name: string, extra?: Record<string, unknown>): Promise<JetStreamCommunicator>;
}

/**
 * Starts one nats-server with JetStream for the test file (`beforeAll`, when the binary is installed); after each test
 * kills the fixtures and closes the communicators the test opened; stops the server after the file.
 */
export function jetStreamForThisFile(): JetStreamFile {
  let js: Awaited<ReturnType<typeof startJetStream>> | undefined;
  const open: JetStreamCommunicator[] = [];
  beforeAll(async () => {
    if (natsBinary !== undefined) js = await startJetStream();
  });
  afterEach(async () => {
    await killFixtures();
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await js?.stop();
  });
  const url = (): string => {
    if (js === undefined) throw new Error('no nats-server: the file starts one in beforeAll');
    return js.url;
  };
  return {
    url,
    async comm(name, extra = {}) {
      const c = await connect({ transport: 'jetstream', servers: url(), name, storage: 'memory', ...extra });
      open.push(c);
      return c;
    },
  };
}

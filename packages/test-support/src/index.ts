/**
 * What the tests and the bench of several packages share: a free loopback port, a probe that waits until a server
 * accepts, and nats-server processes on free ports. One copy here instead of one per package (nats, broker,
 * conformance, cli, bench). Private: nothing published depends on it.
 *
 * @packageDocumentation
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A loopback TCP port that was free a moment ago (bind 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}

/** Whether something accepts TCP connections on `127.0.0.1:port` now (connects and closes at once). */
export function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Waits until `127.0.0.1:port` accepts. Fails when `proc` (the server's process, if given) exits first, or after
 * `timeoutMs` (then `proc` is SIGKILLed).
 */
export async function waitAccepting(port: number, proc?: ChildProcess, what = 'server', timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await accepting(port))) {
    if (proc !== undefined && (proc.exitCode !== null || proc.signalCode !== null)) {
      throw new Error(`${what} exited with ${proc.exitCode ?? proc.signalCode} (port ${port})`);
    }
    if (Date.now() > deadline) {
      proc?.kill('SIGKILL');
      throw new Error(`${what} did not accept on port ${port} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

const NATS_PATHS = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];

/** Path of the nats-server binary, or undefined when none is installed (NATS tests then skip). */
export const natsBinary: string | undefined = NATS_PATHS.find((p) => spawnSync(p, ['--version']).status === 0);

/** Path of the nats-server binary (Debian package `nats-server`, installed by scripts/ensure-system-deps.sh). */
export function natsServerBinary(): string {
  if (natsBinary !== undefined) return natsBinary;
  throw new Error('nats-server is not installed: run scripts/ensure-system-deps.sh (Debian package nats-server)');
}

/** A nats-server process started by a test, on free loopback ports. */
export interface NatsServerHandle {
  /** Client URL, e.g. `nats://127.0.0.1:40123`. */
  url: string;
  port: number;
  /** Cluster (route) port, when started with `cluster: true`. */
  clusterPort: number | undefined;
  /** Stops the process (SIGTERM, then SIGKILL) and resolves when it exited. */
  stop(): Promise<void>;
}

/** Options of {@link startNatsServer}. */
export interface StartNatsOptions {
  /** Listen for routes on a free port (for clustering). */
  cluster?: boolean;
  /** Route URLs of other nodes, e.g. `nats-route://127.0.0.1:40124`. */
  routes?: string[];
  /** Cluster name shared by all nodes (default `socketkit-test`). */
  clusterName?: string;
  /** Reuse this client port (to restart a server in place). */
  port?: number;
  /** The broker's `max_payload` in bytes (default: nats-server's own, 1 MiB). */
  maxPayload?: number;
  /** A nats-server configuration file's text (users, permissions, ...), written to a private temp file. */
  config?: string;
}

/** Starts a nats-server and resolves once it accepts clients. */
export async function startNatsServer(options: StartNatsOptions = {}): Promise<NatsServerHandle> {
  const port = options.port ?? (await freePort());
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  let clusterPort: number | undefined;
  if (options.cluster === true || options.routes !== undefined) {
    clusterPort = await freePort();
    args.push(
      '--cluster_name',
      options.clusterName ?? 'socketkit-test',
      '--cluster',
      `nats://127.0.0.1:${clusterPort}`,
    );
    if (options.routes !== undefined && options.routes.length > 0) args.push('--routes', options.routes.join(','));
  }
  let confDir: string | undefined;
  if (options.maxPayload !== undefined || options.config !== undefined) {
    // max_payload has no command-line flag: it goes through a config file.
    confDir = mkdtempSync(join(tmpdir(), 'nats-conf-'));
    const lines = [options.maxPayload !== undefined ? `max_payload: ${options.maxPayload}` : '', options.config ?? ''];
    writeFileSync(join(confDir, 'nats.conf'), `${lines.join('\n')}\n`, { mode: 0o600 });
    args.push('-c', join(confDir, 'nats.conf'));
  }
  const proc: ChildProcess = spawn(natsServerBinary(), args, { stdio: 'ignore' });
  const removeConf = (): void => {
    if (confDir !== undefined) rmSync(confDir, { recursive: true, force: true });
  };
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    await waitAccepting(port, proc, 'nats-server');
  } catch (err) {
    removeConf();
    throw err;
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    clusterPort,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      removeConf();
    },
  };
}

export { type BlobReceiver, type BlobSender, blobOf, changedBlobs, inSlab, largeAndTiny, sendBlobs } from './slabs.js';

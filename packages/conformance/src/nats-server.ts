import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
}

/** Path of the nats-server binary (Debian package `nats-server`, installed by scripts/ensure-system-deps.sh). */
export function natsServerBinary(): string {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) {
    if (spawnSync(p, ['--version']).status === 0) return p;
  }
  throw new Error('nats-server is not installed: run scripts/ensure-system-deps.sh (Debian package nats-server)');
}

/** A port that was free a moment ago (bind 0, read it, release it). */
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

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
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
  if (options.maxPayload !== undefined) {
    // max_payload has no command-line flag: it goes through a config file.
    confDir = mkdtempSync(join(tmpdir(), 'nats-conf-'));
    writeFileSync(join(confDir, 'nats.conf'), `max_payload: ${options.maxPayload}\n`);
    args.push('-c', join(confDir, 'nats.conf'));
  }
  const proc: ChildProcess = spawn(natsServerBinary(), args, { stdio: 'ignore' });
  const removeConf = (): void => {
    if (confDir !== undefined) rmSync(confDir, { recursive: true, force: true });
  };
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + 10000;
  while (!(await accepting(port))) {
    if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode} (port ${port})`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`nats-server did not accept on port ${port} within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 20));
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

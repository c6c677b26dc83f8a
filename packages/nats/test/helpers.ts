import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';

/** The nats-server binary, or undefined (the NATS tests then skip). */
export const binary = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(
  (p) => spawnSync(p, ['--version']).status === 0,
);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
const accepting = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });

export interface Broker {
  url: string;
  stop(): Promise<void>;
}

/** Starts a nats-server on a free loopback port, with `config` (a nats-server config file's text) if given. */
export async function startBroker(config?: string): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'sknats-'));
  const port = await freePort();
  const args = ['-a', '127.0.0.1', '-p', String(port)];
  if (config !== undefined) {
    writeFileSync(join(dir, 'nats.conf'), config, { mode: 0o600 });
    args.push('-c', join(dir, 'nats.conf'));
  }
  const proc: ChildProcess = spawn(binary as string, args, { stdio: 'ignore' });
  while (!(await accepting(port))) {
    if (proc.exitCode !== null) throw new Error(`nats-server exited with ${proc.exitCode}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await once(proc, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * For a describe block: a nats-server and a NATS connection named 'forger' to it (a publisher the broker admits),
 * started in beforeAll and closed in afterAll.
 */
export function useBrokerAndForger(): { readonly broker: Broker; readonly forger: NatsConnection } {
  let broker: Broker | undefined;
  let forger: NatsConnection | undefined;
  beforeAll(async () => {
    broker = await startBroker();
    forger = await connect({ servers: broker.url, name: 'forger' });
  });
  afterAll(async () => {
    await forger?.close();
    await broker?.stop();
  });
  return {
    get broker() {
      return broker as Broker;
    },
    get forger() {
      return forger as NatsConnection;
    },
  };
}

/**
 * `socketkit broker tasks|requeue|purge`, `socketkit stats` and `socketkit top` against the JetStream backend
 * (`--transport jetstream --servers URLS --name NS`): a real nats-server with JetStream (user/password auth) started
 * here, JetStream communicators in this process making pending and dead tasks, the CLI as child processes.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type JetStreamCommunicator, TaskRejected, connect } from '@socketkit/broker';
import { UsageError, parseCommand } from '../src/args.js';
import { jsonLines, runCli, useTestDir } from './helpers.js';

const NATS = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find((p) => existsSync(p));
const maybe = NATS === undefined ? describe.skip : describe;

let dir = '';
useTestDir('sk-jscli-', (d) => {
  dir = d;
});

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const accepting = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });

/** The user every client of this file's server authenticates as (the password is in a file for the CLI). */
const USER = 'operator';
const PASSWORD = 'op-secret-1234';

let server: ChildProcess | undefined;
let serverDir = '';
let url = '';

beforeAll(async () => {
  if (NATS === undefined) return;
  serverDir = mkdtempSync(join(tmpdir(), 'sk-jscli-nats-'));
  const port = await freePort();
  const conf = join(serverDir, 'nats.conf');
  writeFileSync(conf, `authorization { users = [ { user: ${USER}, password: ${PASSWORD} } ] }\n`, { mode: 0o600 });
  server = spawn(NATS, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(serverDir, 'js'), '-c', conf], {
    stdio: 'ignore',
  });
  url = `nats://127.0.0.1:${port}`;
  while (!(await accepting(port))) {
    if (server.exitCode !== null) throw new Error(`nats-server exited with ${server.exitCode}`);
    await sleep(20);
  }
});

afterAll(async () => {
  if (server !== undefined && server.exitCode === null) {
    server.kill('SIGTERM');
    await once(server, 'exit');
  }
  if (serverDir !== '') rmSync(serverDir, { recursive: true, force: true });
});

let nsSeq = 0;
const namespace = (): string => `cli${process.pid}x${++nsSeq}`;

/** A JetStream communicator of namespace `name` on this file's server (memory streams; MaxDeliver 2). */
const communicator = (name: string): Promise<JetStreamCommunicator> =>
  connect({
    transport: 'jetstream',
    servers: url,
    name,
    storage: 'memory',
    maxDeliveries: 2,
    nats: { user: USER, pass: PASSWORD },
  });

/** Polls `check` every 100 ms until it returns a value (at most ~15 s). */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 150; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`gave up waiting for ${what}`);
}

maybe('socketkit broker|stats|top --transport jetstream', () => {
  test('tasks per state, stats text/json with consumer figures, top, requeue of a dead task, purge', async () => {
    const ns = namespace();
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    const js = [
      '--transport',
      'jetstream',
      '--servers',
      url,
      '--name',
      ns,
      '--user',
      USER,
      '--password-file',
      passwordFile,
    ];
    const comm = await communicator(ns);
    try {
      // Two tasks every subscriber rejects: MaxDeliver 2 ends them in the dead-letter stream.
      const rejecter = await comm.addTaskSubscriber(() => {
        throw new TaskRejected('not mine');
      });
      const failures = await Promise.allSettled([comm.taskSend({ n: 1 }), comm.taskSend({ n: 2 })]);
      for (const f of failures) expect(f).toMatchObject({ reason: { code: 'DELIVERY_LIMIT_EXCEEDED' } });
      await comm.removeTaskSubscriber(rejecter);
      // Three pending tasks, nobody working.
      for (const n of [3, 4, 5]) await comm.taskSend({ n }, { noReply: true });

      const all = await until('2 dead and 3 pending tasks', async () => {
        const r = await runCli(['broker', 'tasks', ...js, '--json'], dir);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const rows = jsonLines(r.stdout);
        return rows.length === 5 ? rows : undefined;
      });
      expect(all.map((t) => t.state).sort()).toEqual(['dead', 'dead', 'pending', 'pending', 'pending']);
      const dead = all.filter((t) => t.state === 'dead');
      for (const t of dead) expect(t).toMatchObject({ reason: 'max-deliveries', deliveries: 2 });
      const deadId = dead[0]?.taskId as string;

      const text = await runCli(['broker', 'tasks', ...js, '--state', 'dead'], dir);
      expect(text.code).toBe(0);
      expect(text.stdout.split('\n')[0]).toMatch(/^TASK\s+STATE\s+SEQ\s+DELIVERIES\s+BYTES\s+AGE\s+REASON$/);
      expect(text.stdout).toMatch(
        new RegExp(`^${deadId}\\s+dead\\s+\\d+\\s+2\\s+\\d+\\s+[\\d.]+ s\\s+max-deliveries$`, 'm'),
      );
      expect(text.stderr).toBe('2 tasks\n');

      // stats: the stream and consumer figures.
      const stats = await runCli(['stats', ns, ...js.filter((a) => a !== '--name' && a !== ns)], dir);
      expect(stats.stderr).toBe('');
      expect(stats.code).toBe(0);
      expect(stats.stdout).toMatch(
        new RegExp(`^jetstream ${ns} {2}tasks pending 3 {2}ack pending 0 {2}dead 2 {2}redelivered \\d+`, 'm'),
      );
      expect(stats.stdout).toMatch(/^stream SK_\w+_TASKS {2}3 messages {2}\d+ B {2}replicas 1 \(current 1\)/m);
      expect(stats.stdout).toMatch(
        /^ {2}consumer workers {2}pending 3 {2}ack pending 0 {2}redelivered \d+ {2}waiting \d+/m,
      );
      const json = JSON.parse(
        (await runCli(['stats', ns, ...js.filter((a) => a !== '--name' && a !== ns), '--json'], dir)).stdout,
      );
      expect(json.jetstream).toMatchObject({ name: ns, pending: 3, inFlight: 0, dead: 2, stored: 3 });
      expect(json.jetstream.redelivered).toBeGreaterThanOrEqual(2);
      const consumers = json.jetstream.consumers as Array<Record<string, unknown>>;
      expect(consumers.find((c) => c.name === 'workers')).toMatchObject({ pending: 3, ackPending: 0 });

      // top: a row per JetStream namespace at --jetstream URLS.
      const top = await runCli(
        [
          'top',
          '--socket-dir',
          dir,
          '--count',
          '1',
          '--jetstream',
          url,
          '--user',
          USER,
          '--password-file',
          passwordFile,
        ],
        dir,
      );
      expect(top.stderr).toBe('');
      expect(top.stdout.split('\n')[0]).toMatch(/DROPS\s+TASKS P\/I\/D$/);
      expect(top.stdout).toMatch(new RegExp(`^jetstream:${ns}\\s+live\\s.*\\s3/0/2$`, 'm'));

      // requeue: the dead task is pending again (once).
      const requeued = await runCli(['broker', 'requeue', deadId, ...js], dir);
      expect(requeued.stderr).toBe(`task ${deadId} requeued\n`);
      expect(requeued.code).toBe(0);
      const again = await runCli(['broker', 'requeue', deadId, ...js], dir);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^error TASK_NOT_REQUEUED: /);
      const pending = jsonLines((await runCli(['broker', 'tasks', ...js, '--state', 'pending', '--json'], dir)).stdout);
      expect(pending.map((t) => t.taskId)).toContain(deadId);

      // purge --dead: the other dead task.
      const purged = await runCli(['broker', 'purge', '--dead', ...js], dir);
      expect(purged.code).toBe(0);
      expect(purged.stdout).toBe('1\n');
      expect((await runCli(['broker', 'tasks', ...js, '--state', 'dead', '--json'], dir)).stdout).toBe('');

      // A worker takes the four pending tasks; the requeued one completes too.
      const done: unknown[] = [];
      await comm.addTaskSubscriber((body) => {
        done.push(body);
        return 'ok';
      });
      await until('4 tasks done', async () => (done.length === 4 ? true : undefined));
      const after = JSON.parse(
        (await runCli(['stats', ns, ...js.filter((a) => a !== '--name' && a !== ns), '--json'], dir)).stdout,
      );
      expect(after.jetstream).toMatchObject({ pending: 0, dead: 0 });
    } finally {
      await comm.close();
    }
  });

  test('errors: no credentials, unknown namespace, unreachable server, inflight listing, serve', async () => {
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    const auth = ['--user', USER, '--password-file', passwordFile];

    const noAuth = await runCli(['broker', 'tasks', '--transport', 'jetstream', '--servers', url], dir);
    expect(noAuth.code).toBe(1);
    expect(noAuth.stderr).toMatch(/^error BROKER_UNAVAILABLE: .*authorization/im);

    const unknown = await runCli(['stats', 'nosuchns', '--transport', 'jetstream', '--servers', url, ...auth], dir);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error NAMESPACE_NOT_FOUND: no JetStream namespace "nosuchns"/);

    const port = await freePort();
    const down = await runCli(
      [
        'broker',
        'purge',
        '--dead',
        '--transport',
        'jetstream',
        '--servers',
        `nats://127.0.0.1:${port}`,
        '--timeout',
        '2',
      ],
      dir,
    );
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error BROKER_UNAVAILABLE: /);

    // Usage errors: in-process (the parser) and through the binary (exit 2).
    const usage = (argv: string[]) => () => parseCommand(argv);
    expect(usage(['broker', 'tasks', '--transport', 'jetstream', '--state', 'inflight'])).toThrow(
      /JetStream cannot list in-flight tasks/,
    );
    expect(usage(['broker', 'serve', '--transport', 'jetstream'])).toThrow(/no broker process/);
    expect(usage(['broker', 'tasks', '--name', 'x'])).toThrow(/--name applies to --transport jetstream/);
    expect(usage(['broker', 'tasks', '--transport', 'jetstream', '--name', 'a.b'])).toThrow(UsageError);
    expect(usage(['broker', 'tasks', '--transport', 'jetstream', '--password-file', 'f'])).toThrow(/--user/);
    expect(usage(['stats', 'ns', '--transport', 'jetstream', '--socket-dir', dir])).toThrow(UsageError);
    const r = await runCli(['broker', 'serve', '--transport', 'jetstream', '--servers', url], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no broker process/);
  });
});

/**
 * `socketkit broker serve|tasks|requeue|purge` and the broker's figures in `stats`, `top` and the metrics: a real
 * broker process (the CLI), worker processes (test/broker-worker.mjs) and a submitter in this process.
 */
import { describe, expect, test } from '@jest/globals';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { connect, type Communicator } from '@socketkit/broker';
import { createClient } from 'socketkit';
import { HELP, UsageError, parseCommand } from '../src/args.js';
import { BIN, cli, jsonLines, pkgDir, runCli, useTestDir } from './helpers.js';

let dir = '';
useTestDir('sk-broker-', (d) => {
  dir = d;
});

/** A hostile task id: a terminal title escape, BEL and a bidi override. */
const EVIL_ID = 'evil\x1b]0;pwned\x07\u202e-task';

const workers = new Set<ChildProcessWithoutNullStreams>();

/** Starts a worker process; resolves once it subscribed (or, with `mayDie`, once it died of a poison task). */
async function worker(conn: Record<string, unknown>, extra: Record<string, unknown> = {}, mayDie = false) {
  const child = spawn(process.execPath, [join(pkgDir, 'test/broker-worker.mjs'), JSON.stringify({ conn, ...extra })], {
    cwd: pkgDir,
    stdio: 'pipe',
  });
  workers.add(child);
  child.once('close', () => workers.delete(child));
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (out.includes('ready\n')) resolve();
    };
    child.stdout.on('data', check);
    child.once('close', () =>
      mayDie ? resolve() : reject(new Error(`worker exited before it was ready: ${out}${err}`)),
    );
  });
  return { child, exited, out: () => out };
}

async function stopWorkers(): Promise<void> {
  await Promise.all(
    [...workers].map(async (w) => {
      if (w.exitCode === null && w.signalCode === null) {
        w.kill('SIGKILL');
        await once(w, 'close');
      }
    }),
  );
}

/** Polls `check` every 50 ms until it returns a value (at most ~10 s). */
async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await sleep(50);
  }
  throw new Error(`gave up waiting for ${what}`);
}

/** Submits one task with its own (hostile) id over the broker protocol, as any client may. */
async function submitRaw(options: Record<string, unknown>, taskId: string, body: unknown): Promise<void> {
  const { transport = 'unix', ...rest } = options as { transport?: 'unix' | 'tcp' };
  const client = await createClient(transport, 'broker', { ...rest, logLevel: 'silent' } as never);
  await client.connect({ waitForWelcome: true });
  const replied = new Promise<void>((resolve) =>
    client.on('message', (m) => {
      if ((m.data as { kind?: unknown }).kind === 'reply') resolve();
    }),
  );
  await client.send({ kind: 'task', ref: 1, taskId, body, noReply: true });
  await replied;
  await client.disconnect();
}

function metricsOver(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ socketPath, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

type Family = { name: string; metrics: Array<{ value: string; labels?: Record<string, string> }> };
const gauge = (families: Family[], name: string): number =>
  Number(families.find((f) => f.name === name)?.metrics[0]?.value ?? Number.NaN);

describe('socketkit broker', () => {
  test('unix: tasks per state, requeue of a dead task that then completes, purge --dead, stats/top/metrics', async () => {
    const metricsDir = join(dir, 'metrics');
    mkdirSync(metricsDir, { mode: 0o700 });
    const metricsSock = join(metricsDir, 'm.sock');
    const serve = cli(
      ['broker', 'serve', '--socket-dir', dir, '--max-deliveries', '1', '--metrics-socket', metricsSock],
      dir,
    );
    let submitter: Communicator | undefined;
    try {
      await serve.waitFor('stderr', /metrics on unix:/);
      expect(serve.stderr()).toMatch(/broker listening on .*broker\.sock \(event "broker", unix\)/);
      expect(serve.stderr()).toMatch(/memory mode: a restart loses every pending, in-flight and dead task/);
      const conn = { socketDir: dir, logLevel: 'silent' };
      submitter = await connect(conn);

      // Two poison tasks, each killing its worker: with --max-deliveries 1 both are dead-lettered.
      const w1 = await worker(conn);
      await expect(submitter.taskSend({ poison: true })).rejects.toMatchObject({ code: 'DELIVERY_LIMIT_EXCEEDED' });
      await w1.exited;
      await submitRaw(conn, EVIL_ID, { poison: true });
      // The poison task waits for it: it may die before it says it is ready.
      const w2 = await worker(conn, {}, true);
      await w2.exited;

      const dead = await until('two dead tasks', async () => {
        const r = await runCli(['broker', 'tasks', '--socket-dir', dir, '--state', 'dead', '--json'], dir);
        expect(r.code).toBe(0);
        const rows = jsonLines(r.stdout);
        return rows.length === 2 ? rows : undefined;
      });
      expect(dead.map((t) => t.state)).toEqual(['dead', 'dead']);
      expect(dead.map((t) => t.taskId)).toContain(EVIL_ID);
      const plainId = dead.find((t) => t.taskId !== EVIL_ID)?.taskId as string;
      expect((await runCli(['broker', 'tasks', '--socket-dir', dir, '--state', 'pending'], dir)).stdout).toMatch(
        /^TASK\s+STATE\s+ATTEMPT\s+FAILURES\s+BYTES\s+AGE\s+WORKER\s+LAST ERROR\n$/,
      );

      // Text output: the hostile id is shown escaped, never written raw.
      const text = await runCli(['broker', 'tasks', '--socket-dir', dir], dir);
      expect(text.code).toBe(0);
      expect(text.stdout).toContain('evil\\x1b]0;pwned\\x07\\u{202e}-task');
      for (const raw of ['\x1b', '\x07', '\u202e']) expect(text.stdout).not.toContain(raw);
      expect(text.stdout).toMatch(new RegExp(`${plainId}\\s+dead\\s+1\\s+1\\s`));

      // Figures: stats (text and JSON), top, metrics.
      const stats = await runCli(['stats', 'broker', '--socket-dir', dir], dir);
      expect(stats.code).toBe(0);
      expect(stats.stdout).toMatch(/broker memory {2}tasks pending 0 {2}in flight 0 {2}dead 2 /);
      expect(stats.stdout).toMatch(/dead-lettered 2/);
      const json = JSON.parse((await runCli(['stats', 'broker', '--socket-dir', dir, '--json'], dir)).stdout);
      expect(json.broker).toMatchObject({ pending: 0, inflight: 0, dead: 2, durable: false });
      const top = await runCli(['top', '--socket-dir', dir, '--count', '1'], dir);
      expect(top.stdout.split('\n')[0]).toMatch(/DROPS\s+TASKS P\/I\/D$/);
      expect(top.stdout).toMatch(/^broker\s+live\s.*\s0\/0\/2$/m);
      let families = parsePrometheusTextFormat(await metricsOver(metricsSock)) as Family[];
      expect(gauge(families, 'socketkit_broker_tasks_dead')).toBe(2);
      expect(gauge(families, 'socketkit_broker_tasks_pending')).toBe(0);
      expect(gauge(families, 'socketkit_broker_tasks_dead_lettered_total')).toBe(2);
      expect(gauge(families, 'socketkit_clients')).toBeGreaterThanOrEqual(1);

      // A cured worker with a hostile identifier; the plain task requeued completes on it.
      const good = await worker(conn, { identifier: 'good\x1b[2J', cure: true });
      const requeued = await runCli(['broker', 'requeue', plainId, '--socket-dir', dir], dir);
      expect(requeued.code).toBe(0);
      expect(requeued.stderr).toContain(`task ${plainId} requeued`);
      await until('the requeued task done', async () => (good.out().includes(plainId) ? true : undefined));
      const after = JSON.parse((await runCli(['stats', 'broker', '--socket-dir', dir, '--json'], dir)).stdout);
      expect(after.broker).toMatchObject({ dead: 1, pending: 0, inflight: 0 });
      expect(after.broker.totals.completed).toBe(1);
      expect(after.broker.subscribers).toHaveLength(1);
      const withWorker = await runCli(['stats', 'broker', '--socket-dir', dir], dir);
      expect(withWorker.stdout).toContain('good\\x1b[2J');
      expect(withWorker.stdout).not.toContain('\x1b');
      families = parsePrometheusTextFormat(await metricsOver(metricsSock)) as Family[];
      expect(gauge(families, 'socketkit_broker_tasks_completed_total')).toBe(1);
      const delivered = families.find((f) => f.name === 'socketkit_broker_subscriber_delivered_total');
      expect(delivered?.metrics[0]?.labels?.subscriber).toBe('good\x1b[2J');
      expect(Number(delivered?.metrics[0]?.value)).toBe(1);

      // Requeue of what is not dead nor in flight: exit 1 naming the code.
      const again = await runCli(['broker', 'requeue', plainId, '--socket-dir', dir], dir);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/^error TASK_NOT_REQUEUED: /);

      // purge --dead removes the hostile one.
      const purged = await runCli(['broker', 'purge', '--dead', '--socket-dir', dir], dir);
      expect(purged.code).toBe(0);
      expect(purged.stdout).toBe('1\n');
      expect((await runCli(['broker', 'tasks', '--socket-dir', dir, '--json'], dir)).stdout).toBe('');
    } finally {
      await submitter?.close();
      await stopWorkers();
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    expect(serve.stderr()).toMatch(/SIGTERM: stopping\nstopped\n$/);
  });

  test('tcp with a token: the admin commands need it; a tcp broker without a token refuses them', async () => {
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'a-broker-token-of-32-bytes-123456\n', { mode: 0o600 });
    const serve = cli(
      [
        'broker',
        'serve',
        '--transport',
        'tcp',
        '--socket-dir',
        dir,
        '--token-file',
        tokenFile,
        '--max-deliveries',
        '1',
      ],
      dir,
    );
    const open = cli(
      ['broker', 'serve', '--transport', 'tcp', '--port', '0', '--socket-dir', dir, '--event', 'open'],
      dir,
    );
    try {
      const port = Number(
        (await serve.waitFor('stderr', /broker listening on \S+ \(event "broker", tcp port (\d+)\)/))[1],
      );
      await serve.waitFor('stderr', /admin messages accepted/);
      const conn = { transport: 'tcp', port, token: 'a-broker-token-of-32-bytes-123456', logLevel: 'silent' };
      const w = await worker(conn);
      await submitRaw(conn, 'poison-1', { poison: true });
      await w.exited;
      const tcpArgs = ['--transport', 'tcp', '--port', String(port)];
      const dead = await until('the dead task', async () => {
        const r = await runCli(['broker', 'tasks', ...tcpArgs, '--token-file', tokenFile, '--json'], dir);
        expect(r.code).toBe(0);
        const rows = jsonLines(r.stdout);
        return rows.length === 1 && rows[0]?.state === 'dead' ? rows : undefined;
      });
      expect(dead[0]?.taskId).toBe('poison-1');

      // Without the token: refused at the connection (exit 1, the code named).
      const noToken = await runCli(['broker', 'tasks', ...tcpArgs], dir);
      expect(noToken.code).toBe(1);
      expect(noToken.stderr).toMatch(/error (UNAUTHORIZED|AUTH_REQUIRED)[^\n]*/);

      // A cured worker takes the requeued task and finishes it.
      const good = await worker(conn, { cure: true });
      expect((await runCli(['broker', 'requeue', 'poison-1', ...tcpArgs, '--token-file', tokenFile], dir)).code).toBe(
        0,
      );
      await until('the requeued task done', async () => (good.out().includes('poison-1') ? true : undefined));
      const purged = await runCli(['broker', 'purge', '--dead', ...tcpArgs, '--token-file', tokenFile], dir);
      expect(purged.stdout).toBe('0\n');

      // tcp without a token: anyone local could connect, so no admin messages.
      const openPort = (await open.waitFor('stderr', /tcp port (\d+)\)/))[1] as string;
      await open.waitFor('stderr', /admin messages refused/);
      const refused = await runCli(
        ['broker', 'tasks', '--transport', 'tcp', '--port', openPort, '--event', 'open'],
        dir,
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^error ADMIN_DISABLED: /);
    } finally {
      await stopWorkers();
      serve.child.kill('SIGTERM');
      open.child.kill('SIGTERM');
      await Promise.all([serve.exited, open.exited]);
    }
  });

  test('serve --store: durable mode, said on start and in stats', async () => {
    const serve = cli(['broker', 'serve', '--socket-dir', dir, '--store', join(dir, 'store')], dir);
    try {
      await serve.waitFor('stderr', /admin messages accepted/);
      expect(serve.stderr()).toContain(`durable mode: tasks kept in ${join(dir, 'store')}`);
      const json = JSON.parse((await runCli(['stats', 'broker', '--socket-dir', dir, '--json'], dir)).stdout);
      expect(json.broker).toMatchObject({ durable: true, pending: 0 });
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
    expect(serve.stderr()).toMatch(/stopped\n$/);
  });

  test('only a broker command that runs a broker loads @socketkit/broker (send, help and admin commands do not)', async () => {
    const trace = join(dir, 'loads');
    const traced = async (args: string[], stop = false): Promise<string> => {
      const child = spawn(process.execPath, ['--import', join(pkgDir, 'test/load-trace.mjs'), BIN, ...args], {
        cwd: dir,
        env: {
          ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SOCKET_'))),
          SK_LOAD_TRACE: trace,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      workers.add(child as unknown as ChildProcessWithoutNullStreams);
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (s: string) => {
        err += s;
        if (stop && err.includes('admin messages')) child.kill('SIGINT');
      });
      await once(child, 'close');
      return existsSync(trace) ? readFileSync(trace, 'utf8') : '';
    };
    expect(await traced(['send', 'jobs', '--socket-dir', dir, '--data', '{}'])).toBe('');
    expect(await traced(['broker', 'serve', '--help'])).toBe('');
    expect(await traced(['broker', 'tasks', '--socket-dir', dir, '--timeout', '0.5'])).toBe('');
    // The trace works: running a broker loads it.
    expect(await traced(['broker', 'serve', '--socket-dir', dir], true)).toContain('/packages/broker/dist/index.js');
  });

  test('usage errors exit 2 saying what to do; every subcommand has --help', async () => {
    for (const sub of ['serve', 'tasks', 'requeue', 'purge']) {
      expect(parseCommand(['broker', sub, '--help'])).toEqual({ command: 'help', topic: `broker ${sub}` });
      expect(HELP[`broker ${sub}` as keyof typeof HELP]).toMatch(new RegExp(`^usage: socketkit broker ${sub}`));
    }
    expect(parseCommand(['help', 'broker', 'tasks'])).toEqual({ command: 'help', topic: 'broker tasks' });
    expect(HELP.broker).toMatch(/^usage: socketkit broker <serve\|tasks\|requeue\|purge>/);
    const cases: Array<[string[], RegExp]> = [
      [['broker', 'frobnicate'], /unknown broker command "frobnicate": use one of serve, tasks, requeue, purge/],
      [['broker', 'purge'], /say what to purge: socketkit broker purge --dead/],
      [['broker', 'requeue'], /give one task id/],
      [['broker', 'tasks', '--state', 'done'], /--state must be pending, inflight, dead/],
      [['broker', 'serve', '--max-deliveries', '0'], /--max-deliveries must be an integer 1-1000/],
      [['broker', 'serve', '--metrics-port', '0'], /add --metrics-token-file FILE/],
      [['broker', 'tasks', '--port', '9000'], /--port apply to --transport tcp/],
      [['broker', 'tasks', 'extra'], /the broker's event name goes in --event NAME/],
      [['broker', 'serve', '--event', 'bad name'], /invalid --event "bad name"/],
    ];
    for (const [args, message] of cases) {
      expect(() => parseCommand(args)).toThrow(UsageError);
      expect(() => parseCommand(args)).toThrow(message);
    }
    // The binary: --help exits 0, a usage error exits 2 with the hint, no broker there exits 1 naming the code.
    const help = await runCli(['broker', 'requeue', '--help'], dir);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: socketkit broker requeue <taskId>/);
    const usage = await runCli(['broker', 'purge'], dir);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe(
      'socketkit broker purge: say what to purge: socketkit broker purge --dead (removes every dead-lettered task)\n' +
        'run "socketkit broker purge --help" for usage\n',
    );
    const none = await runCli(['broker', 'tasks', '--socket-dir', dir, '--timeout', '1'], dir);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^error [A-Z_]+: /);
  });
});

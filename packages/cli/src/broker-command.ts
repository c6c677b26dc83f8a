/**
 * `socketkit broker serve|tasks|requeue|purge`. Loaded by cli.ts only when a broker command runs; `serve` alone
 * imports @socketkit/broker (the admin commands speak the broker protocol's `admin` message over a plain
 * socketkit client).
 */
import { resolve } from 'node:path';
import { ErrorCode, ValidationError, createClient, type SocketMessage, type SocketType } from 'socketkit';
import type { BrokerCommand } from './broker-args.js';
import { brokerFiguresOf, brokerMetrics } from './broker-stats.js';
import { connectOnce, metricsToken, nextSignal, showErrors, timeoutMs, transportOptions } from './commands.js';
import { type MetricsEndpoint, serveMetrics } from './metrics-http.js';
import { safeJson, safeText, status } from './output.js';

type Sub<S extends BrokerCommand['sub']> = Extract<BrokerCommand, { sub: S }>;

/** Default --timeout of the admin commands (ms). */
const ADMIN_TIMEOUT_MS = 5000;

/** A broker's refusal of an admin message, or a broker that did not answer as one. */
export class BrokerAdminError extends Error {
  /** `ADMIN_DISABLED`, `INVALID_REQUEST`, `TASK_NOT_REQUEUED`, `NOT_A_BROKER`, `TIMEOUT`, ... */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'BrokerAdminError';
    this.code = code;
  }
}

/** Runs one parsed broker command; resolves with the exit code. */
export async function broker(a: BrokerCommand): Promise<number> {
  if (a.sub !== 'serve' && a.jetstream !== undefined)
    return (await import('./jetstream-command.js')).jetStreamBroker(a, a.jetstream);
  switch (a.sub) {
    case 'serve':
      return serveBroker(a);
    case 'tasks':
      return tasks(a);
    case 'requeue':
      return requeue(a);
    case 'purge':
      return purge(a);
  }
}

/**
 * Imports @socketkit/broker, an optional peer of the CLI (it brings LMDB, a native module, which no other command
 * needs), for `what` (the command that needs it).
 * @throws ValidationError `INVALID_CONFIG` with `details.package` when it is not installed (main() adds how to
 *   install it beside the CLI).
 */
export async function loadBroker(what = 'socketkit broker serve'): Promise<typeof import('@socketkit/broker')> {
  try {
    return await import('@socketkit/broker');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const missing =
      (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') &&
      String(e.message).includes("'@socketkit/broker'");
    if (!missing) throw err;
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `${what} needs the @socketkit/broker package, which is not installed: npm install @socketkit/broker ` +
        '(the broker commands for a socket broker, other than serve, work without it)',
      { cause: err, details: { package: '@socketkit/broker' } },
    );
  }
}

/** `socketkit broker serve`. */
async function serveBroker(a: Sub<'serve'>): Promise<number> {
  // Read before anything starts: a refused token file leaves nothing half-started.
  const metricsBearer = a.metricsTokenFile === undefined ? undefined : metricsToken(a.metricsTokenFile);
  const { startBroker } = await loadBroker();
  const signal = nextSignal();
  let b: Awaited<ReturnType<typeof startBroker>>;
  try {
    b = await startBroker({
      ...transportOptions(a),
      ...a.limits,
      transport: a.transport as SocketType,
      eventName: a.event,
      ...(a.store === undefined ? {} : { store: { path: resolve(a.store) } }),
    });
  } catch (err) {
    signal.cancel();
    throw err;
  }
  const port = b.port === undefined ? '' : ` port ${b.port}`;
  status(`broker listening on ${b.address} (event "${a.event}", ${a.transport}${port})`);
  status(
    a.store === undefined
      ? 'memory mode: a restart loses every pending, in-flight and dead task and every kept outcome ' +
          '(--store PATH keeps them)'
      : `durable mode: tasks kept in ${resolve(a.store)}; a restart finds them (in-flight ones pending again)`,
  );
  status(
    b.adminOps
      ? 'admin messages accepted (socketkit broker tasks|requeue|purge)'
      : 'admin messages refused (ADMIN_DISABLED): peers other than you can connect; give the broker a token ' +
          '(--token-file), or serve it on a unix socket only you can open, to use socketkit broker tasks|requeue|purge',
  );
  const source = {
    metrics: (): string => {
      const figures = brokerFiguresOf({ broker: b.stats() });
      return b.server.metrics() + (figures === undefined ? '' : brokerMetrics(a.event, figures));
    },
  };
  const metrics: MetricsEndpoint[] = [];
  try {
    if (a.metricsPort !== undefined) metrics.push(await serveMetrics(source, { port: a.metricsPort }, metricsBearer));
    if (a.metricsSocket !== undefined)
      metrics.push(await serveMetrics(source, { path: resolve(a.metricsSocket) }, metricsBearer));
  } catch (err) {
    signal.cancel();
    await Promise.all(metrics.map((m) => m.close()));
    await b.stop();
    throw err;
  }
  for (const m of metrics)
    status(
      `metrics on ${m.url}` +
        (m.url.startsWith('unix:') ? ' (HTTP, GET /metrics; socket mode 0600)' : ' (bearer token required)'),
    );
  const received = await signal.promise;
  status(`${received}: stopping`);
  await Promise.all(metrics.map((m) => m.close()));
  await b.stop();
  status('stopped');
  return 0;
}

/**
 * Sends one `admin` message (`op`: tasks, requeue, purgeDead) to the broker and resolves with its `result`;
 * `undefined` when the connect failed with an error already printed (exit 1).
 * @throws BrokerAdminError with the broker's error code (`ADMIN_DISABLED`, ...) or `TIMEOUT`.
 */
async function adminRequest(
  a: Exclude<BrokerCommand, { sub: 'serve' }>,
  op: string,
  fields: Record<string, unknown> = {},
): Promise<{ result: unknown } | undefined> {
  const client = await createClient(a.transport as SocketType, a.event, {
    ...transportOptions(a),
    autoReconnect: false,
    handshake: true,
    role: 'sender',
  });
  const shown = showErrors(client, true);
  const timeout = a.timeout === undefined ? ADMIN_TIMEOUT_MS : timeoutMs(a);
  if ((await connectOnce(client, shown, { timeout, waitForWelcome: true })) !== 0) return undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const reply = new Promise<Record<string, unknown>>((res, rej) => {
      timer = setTimeout(
        () =>
          rej(
            new BrokerAdminError(
              'TIMEOUT',
              `no answer from ${client.address} within ${timeout} ms: is a socketkit broker serving event ` +
                `"${a.event}" there (a plain server never answers admin messages)?`,
            ),
          ),
        timeout,
      );
      client.on('message', (m: SocketMessage) => {
        const d = m.data as Record<string, unknown>;
        if (d?.kind === 'reply' && d.ref === 1) res(d);
      });
    });
    await client.send({ kind: 'admin', ref: 1, op, ...fields });
    const r = await reply;
    if (r.ok !== true) {
      const e = (r.error ?? {}) as { code?: unknown; message?: unknown };
      throw new BrokerAdminError(
        typeof e.code === 'string' ? e.code : 'BROKER_ERROR',
        typeof e.message === 'string' ? e.message : 'the broker refused the request',
      );
    }
    return { result: r.result };
  } finally {
    clearTimeout(timer);
    await client.disconnect();
  }
}

/** One task as the broker lists it (`TaskInfo`). */
interface TaskRow {
  taskId: string;
  state: string;
  attempt: number;
  failures: number;
  bytes: number;
  createdAt: number;
  worker?: { connId: string; identifier: string };
  lastError?: string;
}

const isTaskRow = (t: unknown): t is TaskRow =>
  typeof t === 'object' && t !== null && typeof (t as TaskRow).taskId === 'string';

/** `socketkit broker tasks`. */
async function tasks(a: Sub<'tasks'>): Promise<number> {
  const answer = await adminRequest(a, 'tasks', {
    limit: a.limit,
    ...(a.state === undefined ? {} : { state: a.state }),
  });
  if (answer === undefined) return 1;
  if (!Array.isArray(answer.result))
    throw new BrokerAdminError(
      'NOT_A_BROKER',
      'the broker answered the tasks operation with something other than a list',
    );
  const rows = answer.result.filter(isTaskRow);
  if (a.json) {
    for (const t of rows) process.stdout.write(`${safeJson(t)}\n`);
    return 0;
  }
  const now = Date.now();
  const table: string[][] = [['TASK', 'STATE', 'ATTEMPT', 'FAILURES', 'BYTES', 'AGE', 'WORKER', 'LAST ERROR']];
  for (const t of rows)
    table.push([
      t.taskId,
      String(t.state),
      String(t.attempt),
      String(t.failures),
      String(t.bytes),
      typeof t.createdAt === 'number' ? `${Math.max(0, (now - t.createdAt) / 1000).toFixed(1)} s` : '-',
      t.worker === undefined ? '-' : `${t.worker.identifier} (${t.worker.connId})`,
      typeof t.lastError === 'string' ? t.lastError.slice(0, 200) : '-',
    ]);
  const shown = table.map((r) => r.map((c) => safeText(c)));
  const widths = (shown[0] as string[]).map((_, i) => Math.max(...shown.map((r) => (r[i] as string).length)));
  process.stdout.write(
    `${shown
      .map((r) =>
        r
          .map((c, i) => c.padEnd(widths[i] as number))
          .join('  ')
          .trimEnd(),
      )
      .join('\n')}\n`,
  );
  status(`${rows.length} task${rows.length === 1 ? '' : 's'}${rows.length >= a.limit ? ` (--limit ${a.limit})` : ''}`);
  return 0;
}

/** `socketkit broker requeue <taskId>`. */
async function requeue(a: Sub<'requeue'>): Promise<number> {
  const answer = await adminRequest(a, 'requeue', { taskId: a.taskId });
  if (answer === undefined) return 1;
  if (answer.result !== true)
    throw new BrokerAdminError(
      'TASK_NOT_REQUEUED',
      `task ${a.taskId} is not dead nor in flight on the broker (unknown, pending or finished): ` +
        'socketkit broker tasks lists the tasks it has',
    );
  status(`task ${a.taskId} requeued`);
  return 0;
}

/** `socketkit broker purge --dead`. */
async function purge(a: Sub<'purge'>): Promise<number> {
  const answer = await adminRequest(a, 'purgeDead');
  if (answer === undefined) return 1;
  const n = typeof answer.result === 'number' ? answer.result : 0;
  process.stdout.write(`${n}\n`);
  status(`${n} dead-lettered task${n === 1 ? '' : 's'} removed`);
  return 0;
}

/**
 * The CLI against the JetStream backend (`--transport jetstream`): `socketkit broker tasks|requeue|purge`,
 * `socketkit stats <namespace>` and the namespace rows of `socketkit top --jetstream URLS`. There is no broker process
 * to ask: the admin functions of @socketkit/broker (an optional peer, loaded only here) read and change the
 * namespace's streams.
 */
import type { JetStreamAdminOptions, JetStreamStats, JetStreamTaskInfo } from '@socketkit/broker';
import type { BrokerCommand, JetStreamTarget } from './broker-args.js';
import { BrokerAdminError, loadBroker } from './broker-command.js';
import { readToken } from './commands.js';
import { safeJson, safeText, status } from './output.js';

type JetStreamBrokerCommand = Exclude<BrokerCommand, { sub: 'serve' }>;

/** Default --timeout of the JetStream commands (ms): connecting and each JetStream API request. */
const JETSTREAM_TIMEOUT_MS = 5000;

/** The admin options of a target: servers, namespace, credentials read from their files, the timeout. */
export function adminOptionsOf(t: JetStreamTarget, timeoutSeconds: number | undefined): JetStreamAdminOptions {
  const timeout = timeoutSeconds === undefined ? JETSTREAM_TIMEOUT_MS : Math.round(timeoutSeconds * 1000);
  return {
    servers: t.servers,
    name: t.name,
    nats: {
      timeout,
      ...(t.user === undefined ? {} : { user: t.user, pass: readToken(t.passwordFile as string, '--password-file') }),
      ...(t.tokenFile === undefined ? {} : { token: readToken(t.tokenFile) }),
    },
  };
}

/** Runs `socketkit broker tasks|requeue|purge --transport jetstream`; resolves with the exit code. */
export async function jetStreamBroker(a: JetStreamBrokerCommand, t: JetStreamTarget): Promise<number> {
  const broker = await loadBroker(`socketkit broker ${a.sub} --transport jetstream`);
  const o = adminOptionsOf(t, a.timeout);
  switch (a.sub) {
    case 'tasks': {
      const states = a.state === undefined ? (['pending', 'dead'] as const) : [a.state as 'pending' | 'dead'];
      const rows: JetStreamTaskInfo[] = [];
      for (const state of states)
        rows.push(...(await broker.jetStreamTasks({ ...o, state, limit: a.limit - rows.length })));
      printTasks(rows, a.json);
      if (!a.json)
        status(
          `${rows.length} task${rows.length === 1 ? '' : 's'}${rows.length >= a.limit ? ` (--limit ${a.limit})` : ''}`,
        );
      return 0;
    }
    case 'requeue':
      try {
        await broker.jetStreamRequeue({ ...o, taskId: a.taskId });
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'INVALID_REQUEST') throw err;
        throw new BrokerAdminError(
          'TASK_NOT_REQUEUED',
          `task ${a.taskId} is not in the dead-letter stream of namespace "${t.name}": socketkit broker tasks ` +
            '--state dead --transport jetstream lists them (JetStream cannot take back an in-flight task)',
        );
      }
      status(`task ${a.taskId} requeued`);
      return 0;
    case 'purge': {
      const n = await broker.jetStreamPurgeDead(o);
      process.stdout.write(`${n}\n`);
      status(`${n} dead-lettered task${n === 1 ? '' : 's'} removed`);
      return 0;
    }
  }
}

/** The task table (`TASK STATE SEQ DELIVERIES BYTES AGE REASON`) or one JSON object per task (bodies left out). */
function printTasks(rows: JetStreamTaskInfo[], json: boolean): void {
  if (json) {
    for (const { body: _body, ...t } of rows) process.stdout.write(`${safeJson(t)}\n`);
    return;
  }
  const now = Date.now();
  const table: string[][] = [['TASK', 'STATE', 'SEQ', 'DELIVERIES', 'BYTES', 'AGE', 'REASON']];
  for (const t of rows)
    table.push([
      t.taskId,
      t.state,
      String(t.seq),
      t.deliveries === undefined ? '-' : String(t.deliveries),
      t.bytes === undefined ? '-' : String(t.bytes),
      t.storedAt === undefined ? '-' : `${Math.max(0, (now - t.storedAt) / 1000).toFixed(1)} s`,
      t.reason ?? '-',
    ]);
  process.stdout.write(`${columns(table)}\n`);
}

/** Rows as aligned columns, every cell made safe to show. */
export function columns(table: string[][]): string {
  const shown = table.map((r) => r.map((c) => safeText(c)));
  const widths = (shown[0] as string[]).map((_, i) => Math.max(...shown.map((r) => (r[i] as string).length)));
  return shown
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] as number))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The figures of one namespace (`socketkit stats <namespace> --transport jetstream`). */
export async function jetStreamFigures(
  t: JetStreamTarget,
  timeoutSeconds: number | undefined,
): Promise<JetStreamStats> {
  const broker = await loadBroker('socketkit stats --transport jetstream');
  return broker.jetStreamStats(adminOptionsOf(t, timeoutSeconds));
}

/** Lines of `socketkit stats` for a JetStream namespace: totals, the task stream, one line per consumer. */
export function formatJetStreamFigures(s: JetStreamStats): string {
  const leader = s.cluster.leader === undefined ? '' : `  leader ${s.cluster.leader}`;
  const lines = [
    `jetstream ${s.name}  tasks pending ${s.pending}  ack pending ${s.inFlight}  dead ${s.dead}  redelivered ` +
      `${s.redelivered}  waiting pulls ${s.waitingPulls}`,
    `stream ${s.stream}  ${s.stored} messages  ${s.bytes} B  replicas ${s.cluster.replicas} (current ` +
      `${s.cluster.current})${leader}  dead-letter stream ${s.dead} messages ${s.deadBytes} B`,
  ];
  for (const c of s.consumers)
    lines.push(
      `  consumer ${c.name}  pending ${c.pending}  ack pending ${c.ackPending}  redelivered ${c.redelivered}  ` +
        `waiting ${c.waiting}  delivered ${c.delivered}  ack floor ${c.ackFloor}  (stream ${c.stream}, ack wait ` +
        `${c.ackWaitMs} ms, max deliver ${c.maxDeliver})`,
    );
  return lines.map((l) => safeText(l)).join('\n');
}

/**
 * The rows `socketkit top --jetstream URLS` adds: one per namespace found there (`jetstream:<ns>`, waiting pulls in
 * the CLIENTS column, `pending/ack pending/dead` in TASKS); a server that cannot be read gives one row saying why.
 */
export async function jetStreamTopRows(t: JetStreamTarget): Promise<string[][]> {
  const broker = await loadBroker('socketkit top --jetstream');
  const o = adminOptionsOf(t, undefined);
  try {
    const rows: string[][] = [];
    for (const name of await broker.jetStreamNamespaces(o)) {
      try {
        const s = await broker.jetStreamStats({ ...o, name });
        rows.push([
          `jetstream:${name}`,
          'live',
          String(s.waitingPulls),
          String(s.stored),
          '-',
          '-',
          `${s.bytes} B`,
          '-',
          `${s.pending}/${s.inFlight}/${s.dead}`,
        ]);
      } catch (err) {
        rows.push([`jetstream:${name}`, `live (${(err as { code?: string }).code ?? 'ERROR'})`, ...Array(7).fill('-')]);
      }
    }
    return rows;
  } catch (err) {
    return [
      [`jetstream:${t.servers.join(',')}`, `(${(err as { code?: string }).code ?? 'ERROR'})`, ...Array(7).fill('-')],
    ];
  }
}

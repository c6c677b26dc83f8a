/**
 * A broker's figures as the CLI shows them: text for `socketkit stats`, a cell for `top`, Prometheus families for
 * `broker serve --metrics-*`. Pure functions over the `broker` field a broker adds to its server's stats (no import
 * of @socketkit/broker: `stats` and `top` stay as light as they were).
 */
import { safeText } from './output.js';

/** One task subscriber's load, as a broker reports it. */
export interface BrokerSubscriberFigures {
  connId: string;
  identifier: string;
  prefetch: number;
  inflight: number;
  delivered: number;
}

/** The broker's figures (`BrokerStats` of @socketkit/broker, the fields the CLI shows). */
export interface BrokerFigures {
  durable: boolean;
  pending: number;
  inflight: number;
  dead: number;
  keptResults: number;
  pendingBytes: number;
  connections: number;
  subscribers: BrokerSubscriberFigures[];
  rpcSubscribers: string[];
  pendingCalls: number;
  tasksPerSecond: number;
  totals: Record<string, number>;
}

/** Most subscribers shown or exported (a hostile or huge broker cannot flood the terminal or a scrape). */
export const MAX_SHOWN_SUBSCRIBERS = 1000;

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * The broker figures carried in a server's stats (`stats.broker`), or undefined when the server is not a broker
 * or sent something of another shape (then it is shown as a plain server).
 */
export function brokerFiguresOf(stats: unknown): BrokerFigures | undefined {
  const b = (stats as { broker?: unknown } | undefined)?.broker as Record<string, unknown> | undefined;
  if (typeof b !== 'object' || b === null) return undefined;
  for (const k of ['pending', 'inflight', 'dead', 'keptResults', 'pendingBytes', 'connections', 'tasksPerSecond'])
    if (!isNum(b[k])) return undefined;
  if (!Array.isArray(b.subscribers) || typeof b.totals !== 'object' || b.totals === null) return undefined;
  const subscribers = (b.subscribers as unknown[])
    .filter(
      (s): s is BrokerSubscriberFigures =>
        typeof s === 'object' &&
        s !== null &&
        typeof (s as BrokerSubscriberFigures).identifier === 'string' &&
        typeof (s as BrokerSubscriberFigures).connId === 'string' &&
        isNum((s as BrokerSubscriberFigures).inflight) &&
        isNum((s as BrokerSubscriberFigures).prefetch) &&
        isNum((s as BrokerSubscriberFigures).delivered),
    )
    .slice(0, MAX_SHOWN_SUBSCRIBERS);
  const totals: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.totals as Record<string, unknown>)) if (isNum(v)) totals[k] = v;
  return {
    durable: b.durable === true,
    pending: b.pending as number,
    inflight: b.inflight as number,
    dead: b.dead as number,
    keptResults: b.keptResults as number,
    pendingBytes: b.pendingBytes as number,
    connections: b.connections as number,
    subscribers,
    rpcSubscribers: Array.isArray(b.rpcSubscribers) ? b.rpcSubscribers.filter((r) => typeof r === 'string') : [],
    pendingCalls: isNum(b.pendingCalls) ? b.pendingCalls : 0,
    tasksPerSecond: b.tasksPerSecond as number,
    totals,
  };
}

/** Lines of `socketkit stats` for a broker (each safe to show: the workers chose their identifiers). */
export function formatBrokerFigures(b: BrokerFigures): string {
  const t = b.totals;
  const lines = [
    `broker ${b.durable ? 'durable' : 'memory'}  tasks pending ${b.pending}  in flight ${b.inflight}  ` +
      `dead ${b.dead}  ` +
      `${b.tasksPerSecond} tasks/s  kept results ${b.keptResults}`,
    `tasks submitted ${t.submitted ?? 0}  completed ${t.completed ?? 0}  failed ${t.failed ?? 0}  redelivered ` +
      `${t.redelivered ?? 0}  rejected ${t.rejected ?? 0}  dead-lettered ${t.deadLettered ?? 0}  stale ` +
      `${t.staleRefused ?? 0}`,
    `subscribers ${b.subscribers.length}  rpc ${b.rpcSubscribers.length}  calls in flight ${b.pendingCalls}`,
  ];
  for (const s of b.subscribers)
    lines.push(`  ${s.identifier} (${s.connId})  in flight ${s.inflight}/${s.prefetch}  delivered ${s.delivered}`);
  return lines.map((l) => safeText(l)).join('\n');
}

/** The TASKS cell of `socketkit top`: `pending/in flight/dead`, or `-` for a server that is not a broker. */
export function brokerCell(b: BrokerFigures | undefined): string {
  return b === undefined ? '-' : `${b.pending}/${b.inflight}/${b.dead}`;
}

/** A Prometheus label value, escaped (backslash, double quote, line feed). */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * The broker's Prometheus families (text format 0.0.4), every sample labelled with `event`; per-subscriber
 * families also with `subscriber` and `connection`.
 */
export function brokerMetrics(event: string, b: BrokerFigures): string {
  const out: string[] = [];
  const ev = `event="${label(event)}"`;
  const family = (name: string, type: 'gauge' | 'counter', help: string, value: number): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}{${ev}} ${value}`);
  };
  family(
    'socketkit_broker_durable',
    'gauge',
    'Whether tasks survive a restart (1: durable store, 0: memory).',
    b.durable ? 1 : 0,
  );
  family('socketkit_broker_tasks_pending', 'gauge', 'Tasks waiting for a subscriber.', b.pending);
  family('socketkit_broker_tasks_inflight', 'gauge', 'Tasks delivered and not yet finished.', b.inflight);
  family('socketkit_broker_tasks_dead', 'gauge', 'Tasks in the dead-letter list.', b.dead);
  family('socketkit_broker_kept_results', 'gauge', 'Outcomes kept for submitters.', b.keptResults);
  family('socketkit_broker_pending_bytes', 'gauge', 'Bytes of task bodies pending or in flight.', b.pendingBytes);
  family('socketkit_broker_connections', 'gauge', 'Connections known to the broker.', b.connections);
  family('socketkit_broker_subscribers', 'gauge', 'Task subscribers.', b.subscribers.length);
  family('socketkit_broker_rpc_subscribers', 'gauge', 'RPC identifiers held.', b.rpcSubscribers.length);
  family('socketkit_broker_rpc_calls_pending', 'gauge', 'RPC calls in flight.', b.pendingCalls);
  family(
    'socketkit_broker_tasks_per_second',
    'gauge',
    'Tasks finished per second over the last 10 s.',
    b.tasksPerSecond,
  );
  const counters: Array<[string, string, string]> = [
    ['submitted', 'socketkit_broker_tasks_submitted_total', 'Tasks accepted.'],
    ['completed', 'socketkit_broker_tasks_completed_total', 'Tasks finished with a result.'],
    ['failed', 'socketkit_broker_tasks_failed_total', 'Tasks finished with a remote exception.'],
    ['redelivered', 'socketkit_broker_tasks_redelivered_total', 'Deliveries after a lost lease.'],
    ['rejected', 'socketkit_broker_tasks_rejected_total', 'Deliveries a subscriber rejected.'],
    ['deadLettered', 'socketkit_broker_tasks_dead_lettered_total', 'Tasks moved to the dead-letter list.'],
    ['staleRefused', 'socketkit_broker_stale_results_total', 'Results refused as stale.'],
    ['refused', 'socketkit_broker_refused_total', 'Broker messages refused with an error.'],
    ['rpcCalls', 'socketkit_broker_rpc_calls_total', 'RPC calls.'],
    ['broadcasts', 'socketkit_broker_broadcasts_total', 'Broadcasts.'],
  ];
  for (const [key, name, help] of counters) family(name, 'counter', help, b.totals[key] ?? 0);
  const per = (name: string, type: 'gauge' | 'counter', help: string, pick: (s: BrokerSubscriberFigures) => number) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const s of b.subscribers)
      out.push(`${name}{${ev},subscriber="${label(s.identifier)}",connection="${label(s.connId)}"} ${pick(s)}`);
  };
  per('socketkit_broker_subscriber_inflight', 'gauge', 'Tasks in flight to a subscriber.', (s) => s.inflight);
  per('socketkit_broker_subscriber_prefetch', 'gauge', 'Most tasks in flight to a subscriber.', (s) => s.prefetch);
  per('socketkit_broker_subscriber_delivered_total', 'counter', 'Deliveries to a subscriber.', (s) => s.delivered);
  return `${out.join('\n')}\n`;
}

/**
 * Issue 25's broker bench: its tables (text and markdown) and method notes, from `results.broker`.
 */
import { markdownTable, type Table, textTable } from './tables.js';
import type { BrokerContender, BrokerResults, BrokerTarget } from '../scenarios/broker.js';

const us = (v: number | undefined): string =>
  v === undefined || !Number.isFinite(v) ? '–' : `${v.toFixed(v < 100 ? 1 : 0)} µs`;
const rate = (v: number | undefined): string =>
  v === undefined || !Number.isFinite(v) ? '–' : Math.round(v).toLocaleString('en-US');

/** socketkit's broker ÷ `c` in tasks/s in the same mode (above 1×: socketkit faster), or '–'. */
function skOver(c: BrokerContender, all: readonly BrokerContender[]): string {
  const sk = all.find((x) => x.impl === 'socketkit-broker' && x.mode === c.mode && x.tasksPerSec !== undefined);
  if (sk === undefined || c.tasksPerSec === undefined || c.impl === 'socketkit-broker') return '–';
  return `${(sk.tasksPerSec! / c.tasksPerSec).toFixed(2)}×`;
}

/** Every contender: tasks/s, socketkit ÷ it, spread over the workers, task and RPC round trips. */
export function brokerTable(r: BrokerResults): Table {
  return {
    header: [
      'contender',
      'server',
      'tasks/s',
      'socketkit ÷ this',
      'CPU µs / task',
      'broker CPU µs / task',
      'tasks per worker',
      'task p50',
      'task p99',
      'RPC p50',
      'RPC p99',
      'status',
    ],
    right: [2, 3, 4, 5, 6, 7, 8, 9, 10],
    rows: r.contenders.map((c) => [
      c.label,
      c.server,
      rate(c.tasksPerSec),
      skOver(c, r.contenders),
      us(c.cpuUsPerTask).replace(' µs', ''),
      us(c.brokerCpuUsPerTask).replace(' µs', ''),
      c.perWorker === undefined ? '–' : `${c.perWorker.min}–${c.perWorker.max}`,
      us(c.taskRtt?.p50),
      us(c.taskRtt?.p99),
      us(c.rpcRtt?.p50),
      us(c.rpcRtt?.p99),
      c.ok ? 'ok' : `FAILED: ${c.error ?? 'unknown'}`,
    ]),
  };
}

/** The targets of issue 25. */
export function brokerTargetsTable(targets: readonly BrokerTarget[]): Table {
  return {
    header: ['target', 'measured', 'met'],
    rows: targets.map((t) => [t.target, t.measured, t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED']),
  };
}

/** How the broker figures were measured. */
export function brokerNotes(r: BrokerResults): string[] {
  const p = r.params;
  return [
    `Broker tasks/s: ${p.workers} task-worker processes, each with one connection per contender consuming with ` +
      `prefetch ${p.prefetch} (socketkit \`prefetch\`, AMQP basic.qos, BullMQ Worker \`concurrency\`); ` +
      `${p.submitters} submitter processes keep ${p.window} tasks each in flight; ` +
      `${p.tasksPerRun.toLocaleString('en-US')} no-op tasks per run (a ~100-byte body, the result \`{ n, ok }\`); ` +
      'tasks/s = outcomes back at the submitters ÷ (last outcome − first submit). One warm-up run each, then the ' +
      'contenders take turns (order rotated per run); ' +
      `median of ${p.reps} runs.`,
    'RabbitMQ: rabbitmq-server started by the bench (private node name, ports, mnesia and log directories, ' +
      "127.0.0.1, no plugins); amqplib work queue with manual acks; results to the submitter's exclusive reply " +
      'queue by correlationId (as kiwipy does); memory = non-durable queue, transient messages; durable = durable ' +
      'classic queue, persistent messages, publisher confirms awaited. RPC: a queue per name, direct reply-to.',
    "BullMQ: redis-server started by the bench (private port, 127.0.0.1); memory = `--save '' --appendonly no`, " +
      'durable = append-only file with fsync every second; Queue.add with own job ids, one QueueEvents listener ' +
      'per submitter resolving on `completed`, jobs removed on completion. BullMQ has no RPC.',
    `Round trips: one task (or RPC call) at a time from one submitter, ${p.roundTrips.toLocaleString('en-US')} timed ` +
      `per run after ${p.roundTripWarmup} untimed; the percentile is the median over ${p.reps} runs. The ` +
      "round-trip target compares with socketkit's plain request/reply p50 over unix (scenario 4) in the same run.",
    ...r.skipped,
  ];
}

/** The broker section as text (for the console summary). */
export function brokerText(r: BrokerResults): string {
  return [
    `Broker (issue 25): socketkit broker vs amqplib + RabbitMQ vs BullMQ + Redis (${r.seconds.toFixed(0)} s)`,
    textTable(brokerTable(r)),
    '',
    'Broker targets',
    textTable(brokerTargetsTable(r.targets)),
    ...r.skipped.map((s) => `- ${s}`),
    '',
  ].join('\n');
}

/** The broker section as markdown lines (for latest.md). */
export function brokerMarkdown(r: BrokerResults): string[] {
  return [
    '## Broker: socketkit broker vs amqplib + RabbitMQ vs BullMQ (issue 25)',
    '',
    markdownTable(brokerTargetsTable(r.targets)),
    '',
    markdownTable(brokerTable(r)),
    '',
    ...brokerNotes(r).map((n) => `- ${n}`),
    '',
  ];
}

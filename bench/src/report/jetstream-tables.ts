/**
 * Issue 27's JetStream bench: the target row, the tables (text and markdown) and the method notes, from
 * `results.jetstream` (and the single-process broker's figures of `results.broker` when that section ran).
 */
import type { BrokerResults } from '../scenarios/broker.js';
import type { JetStreamFigures, JetStreamScenarioResult } from '../scenarios/jetstream.js';
import { markdownTable, type Table, textTable } from './tables.js';

/** Smallest socketkit JetStream ÷ raw JetStream tasks/s ratio that meets the target. */
export const JETSTREAM_TARGET_RATIO = 0.8;

/** The target of issue 27's bench. */
export const JETSTREAM_TARGET = `JetStream ≥ ${JETSTREAM_TARGET_RATIO}× raw JetStream (tasks/s)`;

/** A target row (the shape of the bench's targets table, transport aside). */
export interface JetStreamTarget {
  target: string;
  measured: string;
  met: boolean | null;
}

const rate = (v: number): string => Math.round(v).toLocaleString('en-US');
const find = (r: JetStreamScenarioResult, c: JetStreamFigures['contender']): JetStreamFigures | undefined =>
  r.figures.find((f) => f.contender === c && f.tasksPerSec > 0);

/**
 * The target: socketkit's JetStream backend at least 0.8× the raw `@nats-io/jetstream` work-queue program in tasks/s,
 * medians of the interleaved runs of the same run; `met: null` when it did not run (no nats-server) or a side is
 * missing. The measured text gives both rates, the ratio, and the CPU per task of each.
 */
export function jetStreamTargets(r: JetStreamScenarioResult): JetStreamTarget[] {
  const sk = find(r, 'socketkit-jetstream');
  const raw = find(r, 'raw-jetstream');
  if (!r.ok || sk === undefined || raw === undefined)
    return [{ target: JETSTREAM_TARGET, measured: r.note ?? 'not measured', met: null }];
  const ratio = sk.tasksPerSec / raw.tasksPerSec;
  const cpuRatio = (sk.cpuUsPerTask / raw.cpuUsPerTask).toFixed(2);
  const cpu =
    sk.cpuUsPerTask > 0 && raw.cpuUsPerTask > 0
      ? `; CPU/task ${sk.cpuUsPerTask} vs ${raw.cpuUsPerTask} µs = ${cpuRatio}×`
      : '';
  return [
    {
      target: JETSTREAM_TARGET,
      measured: `${rate(sk.tasksPerSec)} vs ${rate(raw.tasksPerSec)} tasks/s = ${ratio.toFixed(2)}×${cpu}`,
      met: ratio >= JETSTREAM_TARGET_RATIO,
    },
  ];
}

const LABEL: Record<JetStreamFigures['contender'], string> = {
  'socketkit-jetstream': 'socketkit JetStream backend',
  'raw-jetstream': 'raw @nats-io/jetstream work queue',
  'broker-memory': 'socketkit broker, memory (same shape, in-process workers)',
  'broker-durable': 'socketkit broker, durable (same shape, in-process workers)',
};

const ms = (us: number | undefined): string => (us === undefined ? '–' : `${(us / 1000).toFixed(2)} ms`);

/**
 * Every contender: tasks/s, ÷ raw JetStream, CPU per task, task round trip. The single-process broker's rows come from
 * the broker section of the same run (8 worker processes: another shape, for scale) when it ran, else from the
 * scenario's own in-process runs.
 */
export function jetStreamTable(r: JetStreamScenarioResult, broker?: BrokerResults): Table {
  const raw = find(r, 'raw-jetstream');
  const over = (v: number): string => (raw === undefined || v <= 0 ? '–' : `${(v / raw.tasksPerSec).toFixed(2)}×`);
  const rows: string[][] = r.figures.map((f) => [
    LABEL[f.contender],
    rate(f.tasksPerSec),
    over(f.tasksPerSec),
    f.cpuUsPerTask > 0 ? String(f.cpuUsPerTask) : '–',
    `${f.rttP50Ms.toFixed(2)} ms`,
    `${f.rttP99Ms.toFixed(2)} ms`,
  ]);
  for (const c of broker?.contenders ?? []) {
    if (c.impl !== 'socketkit-broker' || !c.ok || c.tasksPerSec === undefined) continue;
    rows.push([
      `${c.label} (broker section: ${broker?.params.workers} worker processes)`,
      rate(c.tasksPerSec),
      over(c.tasksPerSec),
      c.cpuUsPerTask === undefined ? '–' : c.cpuUsPerTask.toFixed(0),
      ms(c.taskRtt?.p50),
      ms(c.taskRtt?.p99),
    ]);
  }
  return {
    header: ['contender', 'tasks/s', '÷ raw JetStream', 'CPU µs / task', 'task p50', 'task p99'],
    right: [1, 2, 3, 4, 5],
    rows,
  };
}

/** How the JetStream figures were measured. */
export function jetStreamNotes(r: JetStreamScenarioResult, broker?: BrokerResults): string[] {
  const p = r.params;
  return [
    `JetStream: one nats-server (-js, file storage) started by the bench; ${p.workers} workers (one NATS connection ` +
      `each, in the bench process) with prefetch ${p.prefetch}, one submitter keeping ${p.window} no-op tasks in ` +
      `flight, ${p.tasks.toLocaleString('en-US')} tasks per run; round trip: ${p.rtt} tasks one at a time. The raw ` +
      'program and the socketkit backend take turns (raw, socketkit, raw, ...) ' +
      `${p.reps} times; each figure is the median. CPU µs / task: user + system of the bench process (workers and ` +
      'submitter) during the throughput run ÷ tasks, nats-server not included.',
    'The raw program is the obvious work queue: a work-queue stream, one durable pull consumer, consume() with ' +
      'max_messages = prefetch, the answer published on the reply subject of a header, then ack(). It has no lease ' +
      '(in-progress acks), no fencing, no dead-letter handling and no outcome hand-over confirmation.',
    broker === undefined
      ? 'The socketkit broker rows: the single-process broker over a Unix socket in the same shape (in-process ' +
        'workers), one run each, for scale.'
      : 'The socketkit broker rows come from the broker section of this run (its worker and submitter processes): ' +
        'another shape, shown for scale.',
    ...(r.ok ? [] : [r.note ?? 'JetStream bench skipped']),
  ];
}

/** The JetStream section as text (for the console summary). */
export function jetStreamText(r: JetStreamScenarioResult, broker?: BrokerResults): string {
  return [
    'JetStream (issue 27): socketkit JetStream backend vs a raw @nats-io/jetstream work queue',
    ...(r.ok ? [textTable(jetStreamTable(r, broker))] : [`- ${r.note ?? 'skipped'}`]),
    '',
  ].join('\n');
}

/** The JetStream section as markdown lines (for latest.md). */
export function jetStreamMarkdown(r: JetStreamScenarioResult, broker?: BrokerResults): string[] {
  const t = jetStreamTargets(r)[0] as JetStreamTarget;
  return [
    '## JetStream backend vs raw JetStream (issue 27)',
    '',
    `Target: ${t.target}: ${t.measured} (${t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED'}).`,
    '',
    ...(r.ok ? [markdownTable(jetStreamTable(r, broker)), ''] : []),
    ...jetStreamNotes(r, broker).map((n) => `- ${n}`),
    '',
  ];
}

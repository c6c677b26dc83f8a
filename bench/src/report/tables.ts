/**
 * The report's tables (header + rows of cells) and their plain-text and
 * markdown renderings.
 */
import { formatNumber } from '../harness/stats.js';
import type { ScalingPoint } from '../scenarios/scaling.js';
import type { SlowResult } from '../scenarios/slow-consumer.js';
import { IMPL_LABEL, type HeadlineRow, type NatsRow, type ProfileSummary, type Row } from './results.js';
import type { Target, UnixTcpRow } from './results.js';

/** A ratio as `1.23×` (`–` when not finite). */
export const fmtRatio = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');

/** A table as header + rows of cells, rendered as aligned text or markdown. */
export interface Table {
  header: string[];
  rows: string[][];
  /** Right-align these columns. */
  right?: number[];
}

/** Renders a table as aligned plain text. */
export function textTable(t: Table): string {
  const widths = t.header.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (t.right?.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(t.header), widths.map((w) => '─'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

/** Renders a table as GitHub markdown. */
export function markdownTable(t: Table): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  const align = t.header.map((_, i) => (t.right?.includes(i) ? '---:' : '---'));
  return [
    `| ${t.header.map(esc).join(' | ')} |`,
    `| ${align.join(' | ')} |`,
    ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

/** A figure's label with ↑ (higher is better) or ↓ (lower is better). */
function withArrow(label: string | undefined, better: 'higher' | 'lower' | undefined): string {
  return `${label} (${better === 'higher' ? '↑' : '↓'})`;
}

function fmtValue(v: number, unit: string): string {
  if (!Number.isFinite(v)) return '–';
  if (unit === 'µs') return `${v.toFixed(1)} µs`;
  if (unit === 'MB/s') return `${v.toFixed(v >= 100 ? 0 : 1)} MB/s`;
  return formatNumber(v);
}

/** The main comparison table: every implementation, its ratio to the ceiling, socketkit ÷ it. */
export function resultsTable(rows: Row[]): Table {
  return {
    header: [
      '#',
      'scenario',
      'transport',
      'implementation',
      'figure',
      'value',
      'figure 2',
      'value 2',
      '÷ ceiling',
      'socketkit ÷ this',
      'CPU µs / msg',
      'server CPU µs / msg',
    ],
    right: [5, 7, 8, 9, 10, 11],
    rows: rows.map((r) => [
      String(r.n),
      r.scenario,
      r.transport,
      IMPL_LABEL[r.impl],
      withArrow(r.labels[0], r.better[0]),
      fmtValue(r.values[0]!, r.units[0]!),
      r.labels[1] === undefined ? '' : withArrow(r.labels[1], r.better[1]),
      r.labels[1] === undefined ? '' : fmtValue(r.values[1]!, r.units[1]!),
      fmtRatio(r.ratioCeiling),
      r.impl === 'socketkit' ? '' : fmtRatio(r.skOverThis),
      Number.isFinite(r.cpuUsPerMsg) ? r.cpuUsPerMsg.toFixed(2) : '',
      Number.isFinite(r.serverCpuUsPerMsg) ? r.serverCpuUsPerMsg.toFixed(2) : '',
    ]),
  };
}

/** socketkit ÷ each baseline, one line per scenario, transport and headline figure. */
export function headlineTable(rows: HeadlineRow[]): Table {
  return {
    header: [
      '#',
      'scenario',
      'transport',
      'figure',
      'socketkit',
      'ceiling',
      'sk ÷ ceiling',
      'sk ÷ raw per-write',
      'sk ÷ zeromq.js',
      'sk ÷ Python peer',
    ],
    right: [4, 5, 6, 7, 8, 9],
    rows: rows.map((r) => [
      String(r.n),
      r.scenario,
      r.transport,
      withArrow(r.metric, r.better),
      fmtValue(r.socketkit, r.unit),
      fmtValue(r.ceiling, r.unit),
      fmtRatio(r.overCeiling),
      fmtRatio(r.overWrite),
      fmtRatio(r.overZmq),
      fmtRatio(r.overPython),
    ]),
  };
}

/** The scaling curve as a table. */
export function scalingTable(points: ScalingPoint[]): Table {
  return {
    header: [
      'transport',
      'implementation',
      'clients',
      'processes',
      'msg/s delivered',
      'CPU µs / delivered msg',
      'server CPU µs / msg',
      'server bytes written / msg',
      'connects/s',
      'server RSS / idle client',
      'server heap / idle client',
      'outcome',
    ],
    right: [2, 3, 4, 5, 6, 7, 8, 9, 10],
    rows: points.map((p) => [
      p.transport,
      IMPL_LABEL[p.impl],
      String(p.clients),
      String(p.processes),
      formatNumber(p.deliveredPerSec),
      Number.isFinite(p.cpuUsPerMsg) ? p.cpuUsPerMsg.toFixed(2) : '–',
      Number.isFinite(p.serverCpuUsPerMsg) ? p.serverCpuUsPerMsg.toFixed(2) : '–',
      Number.isFinite(p.bytesPerMsg) ? `${p.bytesPerMsg.toFixed(0)} B` : '–',
      Number.isFinite(p.connectsPerSec) ? p.connectsPerSec.toFixed(0) : '–',
      Number.isFinite(p.rssPerClient) ? `${(p.rssPerClient / 1024).toFixed(1)} KiB` : '–',
      Number.isFinite(p.heapPerClient) ? `${(p.heapPerClient / 1024).toFixed(1)} KiB` : '–',
      p.ok ? 'ok' : `FAILED: ${p.error}`,
    ]),
  };
}

/** Profile summaries as text lines (one block per scenario, server then client). */
export function profileLines(profiles: ProfileSummary[], top = 12): string[] {
  const out: string[] = [];
  for (const p of profiles) {
    out.push(`${p.title} over ${p.transport}${p.error === undefined ? '' : `: profiling failed: ${p.error}`}`);
    for (const proc of p.processes) {
      out.push(`  ${proc.role} (${proc.busyMs.toFixed(0)} ms busy; self time, % of busy)`);
      for (const f of proc.top.slice(0, top))
        out.push(
          `    ${f.selfPercent.toFixed(1).padStart(5)} %  ${f.selfMs.toFixed(0).padStart(5)} ms  ${f.name}  ` +
            `${f.location}`,
        );
    }
  }
  return out;
}

/** The slow-consumer table. */
export function slowTable(slow: SlowResult[]): Table {
  return {
    header: [
      'transport',
      'offered / run',
      'fast client unloaded',
      'fast client loaded',
      'loaded ÷ unloaded',
      'server RSS growth loaded',
      'RSS growth unloaded',
      'RSS growth, worst run',
      'slow client outcome',
    ],
    right: [1, 2, 3, 4, 5, 6, 7],
    rows: slow.map((s) =>
      s.ok
        ? [
            s.transport,
            `${(s.offeredBytes / 2 ** 20).toFixed(0)} MiB`,
            `${s.unloadedMBps.toFixed(0)} MB/s`,
            `${s.loadedMBps.toFixed(0)} MB/s`,
            fmtRatio(s.fastRatio),
            `+${s.rssGrowthMiBLoaded.toFixed(1)} MiB`,
            `+${s.rssGrowthMiBUnloaded.toFixed(1)} MiB`,
            `+${Math.max(...s.runs.map((r) => r.rssGrowthMiB)).toFixed(1)} MiB ` +
              `(${s.runs.reduce((a, r) => (r.rssGrowthMiB > a.rssGrowthMiB ? r : a)).loaded ? 'loaded' : 'unloaded'})`,
            Number.isFinite(s.slowDroppedAtMiB)
              ? `disconnected with ${s.slowCode || '?'} (${s.slowWhy}) ` +
                `after ${s.slowDroppedAtMiB.toFixed(1)} MiB offered, ${s.slowPendingMiB.toFixed(1)} MiB ` +
                `pending; longest drain() ${s.drainMaxMs.toFixed(0)} ms`
              : 'not disconnected',
          ]
        : [s.transport, 'failed', s.error ?? '', '', '', '', '', '', ''],
    ),
  };
}

/** The targets table. */
export function targetsTable(targets: Target[]): Table {
  return {
    header: ['target', 'transport', 'measured', 'met'],
    rows: targets.map((t) => [t.target, t.transport, t.measured, t.met === null ? 'n/a' : t.met ? 'met' : 'MISSED']),
  };
}

/** The unix-vs-tcp table. */
export function unixTcpTable(rows: UnixTcpRow[]): Table {
  return {
    header: ['#', 'scenario', 'figure', 'implementation', 'unix', 'tcp', 'unix advantage'],
    right: [4, 5, 6],
    rows: rows.map((r) => {
      const unit = r.metric.includes('µs') ? 'µs' : r.metric.includes('MB/s') ? 'MB/s' : 'msg/s';
      return [
        String(r.n),
        r.scenario,
        r.metric,
        r.impl,
        fmtValue(r.unix, unit),
        fmtValue(r.tcp, unit),
        fmtRatio(r.unixAdvantage),
      ];
    }),
  };
}

/** The NATS table: socketkit over a nats-server next to socketkit over unix and tcp. */
export function natsTable(rows: NatsRow[]): Table {
  return {
    header: [
      '#',
      'scenario',
      'metric',
      'socketkit unix',
      'socketkit tcp',
      'socketkit nats',
      'nats ÷ unix',
      'nats ÷ tcp',
    ],
    right: [3, 4, 5, 6, 7],
    rows: rows.map((r) => [
      String(r.n),
      r.scenario,
      withArrow(r.metric, r.better),
      fmtValue(r.unix, r.unit),
      fmtValue(r.tcp, r.unit),
      fmtValue(r.nats, r.unit),
      fmtRatio(r.natsOverUnix),
      fmtRatio(r.natsOverTcp),
    ]),
  };
}

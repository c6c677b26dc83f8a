/**
 * Turns scenario results into the summary: comparison rows with ratios, the
 * issue's targets, unix-vs-tcp ratios, and their text / markdown renderings.
 */
import type { PythonBrokerResult } from './python-broker.js';
import { STATS_COST_TARGET, type StatsCostResult } from './stats-cost.js';
import type { FunctionCost } from './profile-summary.js';
import type { ScalingPoint } from './scaling.js';
import { SLOW_DRAIN_TIMEOUT_MS, formatNumber, type ScenarioResult, type SlowResult } from './scenarios.js';
import type { Impl, TransportKind } from './types.js';

/** Facts about the machine and the invocation. */
export interface Meta {
  startedAt: string;
  durationSeconds: number;
  mode: 'full' | 'quick';
  reps: number;
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  /** msgpackr's `isNativeAccelerationEnabled` after one unpack, in a socketkit worker. */
  msgpackrNative: boolean | null;
  gitCommit: string;
  argv: string[];
  /** 1-minute load average when the run started and ended (other work on the host skews results). */
  loadAverage: { start: number; end: number };
}

/** One implementation's figures in one scenario over one transport (a line of the comparison table). */
export interface Row {
  n: number;
  id: string;
  scenario: string;
  transport: TransportKind;
  impl: Impl;
  /** Headline figures, as in {@link METRICS} for the scenario (first two). */
  values: number[];
  labels: string[];
  units: string[];
  better: Array<'higher' | 'lower'>;
  /** This implementation's first figure ÷ the ceiling's (best raw node:net variant; nats.js over NATS). */
  ratioCeiling: number;
  /** CPU µs per delivered message, all processes of the scenario (broadcast scenarios; NaN elsewhere). */
  cpuUsPerMsg: number;
  /** CPU µs per delivered message of the server process alone. */
  serverCpuUsPerMsg: number;
  /** socketkit's first figure ÷ this implementation's. */
  skOverThis: number;
}

/** socketkit's ratios in one scenario over one transport: to the ceiling, to per-write raw, to zeromq.js, to the Python peer. */
export interface HeadlineRow {
  n: number;
  scenario: string;
  transport: TransportKind;
  metric: string;
  unit: string;
  better: 'higher' | 'lower';
  socketkit: number;
  ceiling: number;
  overCeiling: number;
  overWrite: number;
  overZmq: number;
  overPython: number;
}

/** One target and whether it was met. */
export interface Target {
  target: string;
  transport: TransportKind | 'both';
  measured: string;
  met: boolean | null;
  /** The scenario to profile when the target is missed. */
  profile?: { id: string; transport: TransportKind };
}

/** CPU profile summary of socketkit's server and client in one scenario (for a missed target). */
export interface ProfileSummary {
  id: string;
  title: string;
  transport: TransportKind;
  processes: Array<{ role: string; busyMs: number; top: FunctionCost[] }>;
  error?: string;
}

/** Which peers ran, with versions, or why not. */
export interface PeerInfo {
  zeromq: string;
  python: string;
}

/** unix vs tcp for one scenario figure. */
export interface UnixTcpRow {
  n: number;
  scenario: string;
  metric: string;
  impl: Impl;
  unix: number;
  tcp: number;
  /** How many times better unix is than tcp (>1: unix wins). */
  unixAdvantage: number;
}

/** socketkit over NATS next to socketkit over unix and tcp, for one scenario figure. */
export interface NatsRow {
  n: number;
  scenario: string;
  metric: string;
  unit: string;
  better: 'higher' | 'lower';
  unix: number;
  tcp: number;
  nats: number;
  /** nats ÷ unix (plain ratio of the figures: below 1× is slower for ↑ rows, above 1× is slower for ↓ rows). */
  natsOverUnix: number;
  /** nats ÷ tcp. */
  natsOverTcp: number;
}

/** Everything written to `latest.json`. */
export interface BenchResults {
  meta: Meta;
  scenarios: ScenarioResult[];
  slowConsumer: SlowResult[];
  rows: Row[];
  headline: HeadlineRow[];
  targets: Target[];
  unixVsTcp: UnixTcpRow[];
  scaling: ScalingPoint[];
  profiles: ProfileSummary[];
  peers: PeerInfo;
  /** socketkit over NATS vs over unix / tcp (absent in results from before the NATS transport). */
  viaNats?: NatsRow[];
  /** The stats cost A/B (issue 17; absent when not selected and in older results). */
  statsCost?: StatsCostResult;
  /** Broker tasks/s with Python workers beside Node workers (issue 26; absent when not selected and in older results). */
  pythonBroker?: PythonBrokerResult;
  notes: string[];
}

const METRICS: Record<string, Array<{ key: string; label: string; unit: string; better: 'higher' | 'lower' }>> = {
  'broadcast-1': [
    { key: 'msgsPerSec', label: 'messages/s', unit: 'msg/s', better: 'higher' },
    { key: 'MBps', label: 'MB/s', unit: 'MB/s', better: 'higher' },
  ],
  'fanout-10': [
    { key: 'totalMsgsPerSec', label: 'messages/s delivered, total', unit: 'msg/s', better: 'higher' },
    { key: 'msgsPerSec', label: 'messages/s per client', unit: 'msg/s', better: 'higher' },
  ],
  'large-64k': [
    { key: 'MBps', label: 'MB/s', unit: 'MB/s', better: 'higher' },
    { key: 'msgsPerSec', label: 'messages/s', unit: 'msg/s', better: 'higher' },
  ],
  reqrep: [
    { key: 'p50Us', label: 'p50 round trip', unit: 'µs', better: 'lower' },
    { key: 'p99Us', label: 'p99 round trip', unit: 'µs', better: 'lower' },
    { key: 'meanUs', label: 'mean round trip', unit: 'µs', better: 'lower' },
  ],
  'ingress-8': [
    { key: 'msgsPerSec', label: 'messages/s accepted', unit: 'msg/s', better: 'higher' },
    { key: 'MBps', label: 'MB/s accepted', unit: 'MB/s', better: 'higher' },
  ],
};

/** Display names of the implementations. */
export const IMPL_LABEL: Record<Impl, string> = {
  socketkit: 'socketkit',
  'raw-write': 'raw node:net, per-write',
  'raw-batched': 'raw node:net, 64 KiB writes (ceiling)',
  zeromq: 'zeromq.js',
  python: 'Python reference peer',
  'nats-raw': 'nats.js (raw)',
};

/** The ceiling of a figure: the better raw node:net variant (nats.js over NATS). */
function ceilingOf(r: ScenarioResult, key: string, better: 'higher' | 'lower'): number {
  if (r.transport === 'nats') return r.metrics['nats-raw']?.[key] ?? NaN;
  const v = [r.metrics['raw-write']?.[key], r.metrics['raw-batched']?.[key]].filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length === 0) return NaN;
  return better === 'higher' ? Math.max(...v) : Math.min(...v);
}

/** The comparison rows of scenarios 1–5: every implementation, its ratio to the ceiling, socketkit ÷ it. */
export function buildRows(results: ScenarioResult[]): Row[] {
  const rows: Row[] = [];
  for (const r of results) {
    if (!r.ok) continue;
    const ms = (METRICS[r.id] ?? []).slice(0, 2);
    if (ms.length === 0) continue;
    const m0 = ms[0]!;
    const ceiling = ceilingOf(r, m0.key, m0.better);
    const sk = r.metrics.socketkit?.[m0.key] ?? NaN;
    for (const impl of Object.keys(r.metrics) as Impl[]) {
      const values = ms.map((m) => r.metrics[impl]?.[m.key] ?? NaN);
      const cpu = r.metrics[impl]?.cpuUsPerMsg ?? NaN;
      const serverCpu = r.metrics[impl]?.serverCpuUsPerMsg ?? NaN;
      rows.push({
        n: r.n,
        id: r.id,
        scenario: r.title,
        transport: r.transport,
        impl,
        values,
        labels: ms.map((m) => m.label),
        units: ms.map((m) => m.unit),
        better: ms.map((m) => m.better),
        ratioCeiling: values[0]! / ceiling,
        skOverThis: sk / values[0]!,
        cpuUsPerMsg: cpu,
        serverCpuUsPerMsg: serverCpu,
      });
    }
  }
  return rows;
}

/** socketkit ÷ each baseline, for the headline figures of every scenario run (p50 and p99 for round trips). */
export function buildHeadline(results: ScenarioResult[]): HeadlineRow[] {
  const out: HeadlineRow[] = [];
  for (const r of results) {
    if (!r.ok) continue;
    const ms = r.id === 'reqrep' ? METRICS.reqrep!.slice(0, 2) : (METRICS[r.id] ?? []).slice(0, 1);
    for (const m of ms) {
      const sk = r.metrics.socketkit?.[m.key] ?? NaN;
      const ceiling = ceilingOf(r, m.key, m.better);
      const over = (impl: Impl): number => sk / (r.metrics[impl]?.[m.key] ?? NaN);
      out.push({
        n: r.n,
        scenario: r.title,
        transport: r.transport,
        metric: m.label,
        unit: m.unit,
        better: m.better,
        socketkit: sk,
        ceiling,
        overCeiling: sk / ceiling,
        overWrite: over('raw-write'),
        overZmq: over('zeromq'),
        overPython: over('python'),
      });
    }
  }
  return out;
}

const fmtRatio = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');

function find(results: ScenarioResult[], id: string, transport: TransportKind): ScenarioResult | undefined {
  return results.find((r) => r.id === id && r.transport === transport && r.ok);
}

/**
 * Evaluates the targets of issue 16 (throughput against the ceiling and
 * zeromq.js, round trips against raw, 64 KiB messages, NATS against nats.js,
 * the scaling curve to 1,000 clients) and issue 6's slow-consumer targets.
 */
export function buildTargets(results: ScenarioResult[], slow: SlowResult[], scaling: ScalingPoint[] = [], statsCost?: StatsCostResult): Target[] {
  const out: Target[] = [];
  const add = (
    target: string,
    transport: TransportKind,
    r: ScenarioResult | undefined,
    key: string,
    other: number,
    otherName: string,
    unit: string,
    ok: (ratio: number) => boolean,
  ): void => {
    if (r === undefined) return; // not run: no line
    const sk = r.metrics.socketkit?.[key] ?? NaN;
    const ratio = sk / other;
    const fmt = (v: number): string => (unit === 'µs' ? `${v.toFixed(1)} µs` : unit === 'MB/s' ? `${v.toFixed(0)} MB/s` : `${formatNumber(v)} msg/s`);
    const measured = !Number.isFinite(other) ? `no ${otherName} figure in this run` : `${fmtRatio(ratio)} (${fmt(sk)} vs ${fmt(other)} ${otherName})`;
    const met = !Number.isFinite(other) ? null : ok(ratio);
    out.push({ target, transport, measured, met, ...(met === false ? { profile: { id: r.id, transport } } : {}) });
  };
  for (const transport of ['unix', 'tcp'] as const) {
    for (const [id, key, label] of [
      ['broadcast-1', 'msgsPerSec', 'Broadcast, 1 client'],
      ['fanout-10', 'totalMsgsPerSec', 'Fan-out, 10 clients'],
    ] as const) {
      const r = find(results, id, transport);
      add(`${label} ≥ 0.9× raw ceiling`, transport, r, key, r === undefined ? NaN : ceilingOf(r, key, 'higher'), 'ceiling', 'msg/s', (x) => x >= 0.9);
      add(`${label} ≥ 2× zeromq.js`, transport, r, key, r?.metrics.zeromq?.[key] ?? NaN, 'zeromq.js', 'msg/s', (x) => x >= 2);
    }
    const rr = find(results, 'reqrep', transport);
    add('Request/reply p50 ≤ 1.15× raw', transport, rr, 'p50Us', rr === undefined ? NaN : ceilingOf(rr, 'p50Us', 'lower'), 'raw', 'µs', (x) => x <= 1.15);
    add('Request/reply p99 ≤ 1.3× raw', transport, rr, 'p99Us', rr === undefined ? NaN : ceilingOf(rr, 'p99Us', 'lower'), 'raw', 'µs', (x) => x <= 1.3);
    const lg = find(results, 'large-64k', transport);
    add('64 KiB messages ≥ 0.95× raw', transport, lg, 'MBps', lg === undefined ? NaN : ceilingOf(lg, 'MBps', 'higher'), 'raw', 'MB/s', (x) => x >= 0.95);
  }
  for (const [id, key, label] of [
    ['broadcast-1', 'msgsPerSec', 'NATS broadcast, 1 client ≥ 0.8× nats.js'],
    ['fanout-10', 'totalMsgsPerSec', 'NATS fan-out, 10 clients ≥ 0.8× nats.js'],
  ] as const) {
    const r = find(results, id, 'nats');
    if (r !== undefined) add(label, 'nats', r, key, r.metrics['nats-raw']?.[key] ?? NaN, 'nats.js', 'msg/s', (x) => x >= 0.8);
  }
  for (const transport of ['unix', 'tcp'] as const) {
    const top = scaling.filter((p) => p.transport === transport && p.impl === 'socketkit').sort((a, b) => b.clients - a.clients)[0];
    if (top === undefined) continue;
    out.push({
      target: `Scaling: ${top.clients} clients connect and receive`,
      transport,
      measured: top.ok
        ? `${top.connected} connected at ${top.connectsPerSec.toFixed(0)}/s, ${formatNumber(top.deliveredPerSec)} msg/s delivered`
        : `${top.connected} of ${top.clients} connected: ${top.error}`,
      met: top.ok,
    });
  }
  for (const s of slow) {
    if (!s.ok) {
      out.push({ target: 'Slow consumer', transport: s.transport, measured: `failed: ${s.error ?? ''}`, met: false });
      continue;
    }
    out.push({
      target: 'Slow consumer: server RSS growth < 64 MiB (issue 6)',
      transport: s.transport,
      measured: `+${s.rssGrowthMiBLoaded.toFixed(1)} MiB (unloaded run: +${s.rssGrowthMiBUnloaded.toFixed(1)} MiB)`,
      met: s.rssGrowthMiBLoaded < 64,
    });
    out.push({
      target: 'Slow consumer: fast client ≥ 0.5× unloaded throughput (issue 6)',
      transport: s.transport,
      measured: `${fmtRatio(s.fastRatio)} (${s.loadedMBps.toFixed(0)} vs ${s.unloadedMBps.toFixed(0)} MB/s)`,
      met: s.fastRatio >= 0.5,
    });
  }
  if (statsCost !== undefined) out.push(statsCostTarget(statsCost));
  return out;
}

/** The "stats cost" row (issue 17): stats on ÷ off, interleaved A/B in one process, medians of the rounds. */
export function statsCostTarget(r: StatsCostResult): Target {
  const target = `Stats cost: counters on ÷ off ≤ ${STATS_COST_TARGET} (interleaved A/B, median of ${r.rounds})`;
  if (!r.ok) return { target, transport: 'unix', measured: `failed: ${r.error ?? 'unknown error'}`, met: false };
  const spread = r.roundRatios.length > 0 ? `; rounds ${Math.min(...r.roundRatios).toFixed(2)}–${Math.max(...r.roundRatios).toFixed(2)}` : '';
  const round = `${formatNumber(r.messages)} broadcasts × ${r.clients} clients`;
  return {
    target,
    transport: 'unix',
    measured: `${r.ratio.toFixed(3)} (${r.onMs.toFixed(1)} vs ${r.offMs.toFixed(1)} ms per round of ${round}${spread})`,
    met: r.ratio <= STATS_COST_TARGET,
  };
}

/** unix ÷ tcp for the headline figure of each scenario (latency inverted, so >1 always means unix is better). */
export function buildUnixVsTcp(results: ScenarioResult[]): UnixTcpRow[] {
  const out: UnixTcpRow[] = [];
  for (const id of Object.keys(METRICS)) {
    const u = find(results, id, 'unix');
    const t = find(results, id, 'tcp');
    if (u === undefined || t === undefined) continue;
    const metrics = id === 'reqrep' ? METRICS[id]!.filter((m) => m.key !== 'meanUs') : METRICS[id]!.slice(0, 1);
    for (const m of metrics) {
      for (const impl of ['socketkit', 'raw-batched'] as const) {
        const a = u.metrics[impl]?.[m.key] ?? NaN;
        const b = t.metrics[impl]?.[m.key] ?? NaN;
        out.push({
          n: u.n,
          scenario: u.title,
          metric: `${m.label} (${m.unit})`,
          impl,
          unix: a,
          tcp: b,
          unixAdvantage: m.better === 'higher' ? a / b : b / a,
        });
      }
    }
  }
  return out;
}

/** socketkit over NATS next to socketkit over unix and tcp, every figure of the scenarios NATS ran. */
export function buildViaNats(results: ScenarioResult[]): NatsRow[] {
  const out: NatsRow[] = [];
  for (const n of results) {
    if (!n.ok || n.transport !== 'nats') continue;
    const u = find(results, n.id, 'unix');
    const t = find(results, n.id, 'tcp');
    for (const m of METRICS[n.id] ?? []) {
      const nats = n.metrics.socketkit?.[m.key] ?? NaN;
      const unix = u?.metrics.socketkit?.[m.key] ?? NaN;
      const tcp = t?.metrics.socketkit?.[m.key] ?? NaN;
      out.push({
        n: n.n,
        scenario: n.title,
        metric: m.label,
        unit: m.unit,
        better: m.better,
        unix,
        tcp,
        nats,
        natsOverUnix: nats / unix,
        natsOverTcp: nats / tcp,
      });
    }
  }
  return out;
}

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
  return [`| ${t.header.map(esc).join(' | ')} |`, `| ${align.join(' | ')} |`, ...t.rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
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
      `${r.labels[0]} (${r.better[0] === 'higher' ? '↑' : '↓'})`,
      fmtValue(r.values[0]!, r.units[0]!),
      r.labels[1] === undefined ? '' : `${r.labels[1]} (${r.better[1] === 'higher' ? '↑' : '↓'})`,
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
    header: ['#', 'scenario', 'transport', 'figure', 'socketkit', 'ceiling', 'sk ÷ ceiling', 'sk ÷ raw per-write', 'sk ÷ zeromq.js', 'sk ÷ Python peer'],
    right: [4, 5, 6, 7, 8, 9],
    rows: rows.map((r) => [
      String(r.n),
      r.scenario,
      r.transport,
      `${r.metric} (${r.better === 'higher' ? '↑' : '↓'})`,
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
        out.push(`    ${f.selfPercent.toFixed(1).padStart(5)} %  ${f.selfMs.toFixed(0).padStart(5)} ms  ${f.name}  ${f.location}`);
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
      return [String(r.n), r.scenario, r.metric, r.impl, fmtValue(r.unix, unit), fmtValue(r.tcp, unit), fmtRatio(r.unixAdvantage)];
    }),
  };
}

/** The NATS table: socketkit over a nats-server next to socketkit over unix and tcp. */
export function natsTable(rows: NatsRow[]): Table {
  return {
    header: ['#', 'scenario', 'metric', 'socketkit unix', 'socketkit tcp', 'socketkit nats', 'nats ÷ unix', 'nats ÷ tcp'],
    right: [3, 4, 5, 6, 7],
    rows: rows.map((r) => [
      String(r.n),
      r.scenario,
      `${r.metric} (${r.better === 'higher' ? '↑' : '↓'})`,
      fmtValue(r.unix, r.unit),
      fmtValue(r.tcp, r.unit),
      fmtValue(r.nats, r.unit),
      fmtRatio(r.natsOverUnix),
      fmtRatio(r.natsOverTcp),
    ]),
  };
}

/** Lines describing how the figures were measured. */
export function methodNotes(results: BenchResults): string[] {
  const m = results.meta;
  const peers = results.peers ?? { zeromq: 'not recorded', python: 'not recorded' };
  return [
    `Every figure is the median of ${m.reps} measured runs (after one warm-up run); in each ` +
      'run the implementations take turns (order rotated per run) in the same worker processes.',
    'Server and every client/writer run in separate Node processes (child_process.fork); ' +
      'times come from CLOCK_MONOTONIC (process.hrtime; time.monotonic_ns in the Python peer), ' +
      'shared by all processes on the host.',
    'Throughput = messages ÷ (time the last client got the last message − time the producer ' +
      'started). MB/s counts frame bytes on the wire (10^6 bytes), all clients together.',
    'Raw node:net baselines: msgpackr (useRecords: false), the same 4-byte big-endian length ' +
      'prefix and the same msgpack map (event_name, timestamp_ms, Python-style timestamp_iso, ' +
      'message_type, data); one decode per received frame; no validation, no handshake. ' +
      '"per-write" calls socket.write once per frame; the ceiling copies frames into buffers of ' +
      'up to 64 KiB and writes each buffer once (on a broadcast one buffer goes to every ' +
      'socket), flushing at the end of the tick. "÷ ceiling" divides by the better of the two ' +
      'raw variants (for NATS: by plain nats.js).',
    peers.zeromq.startsWith('skipped')
      ? `zeromq.js column ${peers.zeromq}.`
      : `zeromq.js (${peers.zeromq}): an XPUB with noDrop (a full high-water mark holds the ` +
        "producer, like socketkit's drain(); the publisher counts subscriptions to know every " +
        'subscriber is in) → SUB for broadcast and fan-out, DEALER → ROUTER for round trips, over ' +
        'ipc:// (the unix rows) and tcp://127.0.0.1; the same msgpack body as the raw baseline in ' +
        `one zeromq message, decoded once on receipt; \`await socket.send()\` per message ` +
        '(zeromq.js takes one send at a time).',
    peers.python.startsWith('skipped')
      ? `Python reference peer ${peers.python}.`
      : `Python reference peer (${peers.python}): python/peer.py with blocking sockets and one ` +
        'reader thread per connection; msgpack.packb of the same map (datetime.isoformat() ' +
        'timestamps), msgpack.unpackb per frame; its server batches broadcasts into 64 KiB ' +
        'sendall() calls. Server and clients are Python processes driven by the bench workers; no handshake.',
    'Producers (socketkit and raw alike) check for back-pressure every 64 KiB offered: ' +
      'socketkit awaits server.drain(), the raw server awaits "drain" on the sockets above their ' +
      'high-water mark. Writers (scenario 5) yield to the event loop every 64 KiB.',
    'Request/reply: one request in flight at a time; socketkit uses client.request() and a ' +
      'server handler, the raw client matches reply_to itself. The round-trip targets compare ' +
      'with the faster raw variant.',
    'Slow consumer: a socketkit server broadcasts 64 KiB messages to a fast client (counting ' +
      'them) and a second client that stopped reading (receive buffer of 1 message, so it pauses ' +
      'its socket). Runs alternate unloaded (fast client only) and loaded. The producer awaits ' +
      'server.drain() every 1 MiB offered; the server runs with ' +
      `drainTimeout ${SLOW_DRAIN_TIMEOUT_MS} ms (library default 5000 ms). RSS is sampled in the ` +
      'server process every 5 ms and at every drain, from just before the run until the slow ' +
      "client's connection is closed.",
    ...(results.scenarios.some((s) => s.transport === 'nats')
      ? [
          'NATS (scenarios 1, 2 and 4): socketkit through @socketkit/nats (NatsSocketServer / ' +
            'NatsSocketClient) and plain nats.js (@nats-io/transport-node: one publish per message to ' +
            'a subject every subscriber listens on, subscription callbacks, nc.request() / ' +
            'msg.respond() for round trips; the publisher yields every 64 KiB and awaits nc.flush() ' +
            'every 1 MiB) through one local nats-server (default settings, 127.0.0.1, started by the ' +
            'run). The NATS target compares socketkit with that nats.js baseline; the "crossing a ' +
            'broker" table compares socketkit over NATS with socketkit over unix and tcp.',
        ]
      : []),
    ...(results.scaling !== undefined && results.scaling.length > 0
      ? [
          'Scaling curve: fan-out of 100-byte messages to 1, 10, 100 and 1,000 clients; the clients ' +
            `share up to ${Math.max(...results.scaling.map((p) => p.processes))} worker processes ` +
            '(1,000 clients = 100 per process, each process connecting its share all at once); a fresh ' +
            'server process per point. Connects/s = clients ÷ (last connect done − first connect ' +
            'started). Memory per idle client = server RSS (and JS heap) growth after a forced GC, ' +
            'divided by the clients. Each point broadcasts max(50, deliveries ÷ clients) messages per ' +
            `run (one warm-up and ${m.reps} measured runs, medians). CPU per delivered message = ` +
            'user+system CPU time of the server and all client processes ÷ messages delivered; bytes ' +
            "per delivered message = the server's write-syscall bytes (/proc/self/io wchar) ÷ messages " +
            'delivered. A point whose clients cannot all connect is recorded as failed with the first error.',
        ]
      : []),
    ...(results.profiles !== undefined && results.profiles.length > 0
      ? [
          'Profiles of missed targets: the scenario re-run with socketkit alone (one warm-up and ' +
            "two measured runs), V8's sampling profiler (node:inspector, 200 µs) on in the server and " +
            'the first client during the measured runs only; self time per function as a share of that ' +
            "process's non-idle time. One profile per scenario (the first transport that missed it; " +
            'NATS apart); the .cpuprofile files stay in bench/profiles/.',
        ]
      : []),
    'msgpackr native acceleration (isNativeAccelerationEnabled after one unpack in a ' +
      `socketkit worker): ${m.msgpackrNative === null ? 'unknown' : m.msgpackrNative ? 'enabled' : 'disabled'}.`,
  ];
}

/** The whole report as markdown (`latest.md`). */
export function markdownReport(results: BenchResults, chartFile: string): string {
  const m = results.meta;
  const profiles = results.profiles ?? [];
  return [
    `# socketkit benchmark — ${m.mode} run`,
    '',
    `${m.startedAt} · Node ${m.node} · ${m.platform} · ${m.cpus} × ${m.cpuModel} ` +
      `· ${m.memoryGiB} GiB RAM · ${m.durationSeconds.toFixed(0)} s · load ` +
      `average ${m.loadAverage.start.toFixed(1)} → ${m.loadAverage.end.toFixed(1)} · ` +
      `commit ${m.gitCommit || 'unknown'}`,
    '',
    `![benchmark chart](${chartFile})`,
    '',
    "## Targets (issue 16, with issue 6's slow-consumer targets)",
    '',
    markdownTable(targetsTable(results.targets)),
    '',
    '## socketkit ÷ each baseline',
    '',
    'Ceiling = the better raw node:net variant (for NATS: plain nats.js). ↑ rows: above 1× ' +
      'means socketkit is faster; ↓ rows (latency): above 1× means socketkit is slower.',
    '',
    markdownTable(headlineTable(results.headline ?? [])),
    '',
    '## Every implementation',
    '',
    '"÷ ceiling" is that implementation\'s first figure ÷ the ceiling\'s; "socketkit ÷ this" ' +
      'is socketkit\'s first figure ÷ that implementation\'s. "CPU µs / msg" (broadcast ' +
      'scenarios): user + system CPU of the server and every client process (Python peer ' +
      'processes included; nats-server not) per delivered message; it moves less than throughput on a busy host.',
    '',
    markdownTable(resultsTable(results.rows)),
    '',
    ...((results.scaling ?? []).length > 0 ? ['## Scaling curve: fan-out to 1 … 1,000 clients', '', markdownTable(scalingTable(results.scaling)), ''] : []),
    ...(profiles.length > 0 ? ['## Where the time goes (profiles of missed targets)', '', '```', ...profileLines(profiles), '```', ''] : []),
    '## Scenario 6: slow consumer',
    '',
    markdownTable(slowTable(results.slowConsumer)),
    '',
    '## Unix sockets vs TCP',
    '',
    markdownTable(unixTcpTable(results.unixVsTcp)),
    '',
    ...(results.viaNats !== undefined && results.viaNats.length > 0
      ? [
          '## NATS: what crossing a broker costs',
          '',
          'socketkit over a local nats-server next to socketkit over Unix sockets and TCP in the ' +
            'same run. Ratios are nats ÷ unix and nats ÷ tcp: below 1× on ↑ rows, above 1× on ↓ rows ' +
            'means NATS is slower.',
          '',
          markdownTable(natsTable(results.viaNats)),
          '',
        ]
      : []),
    '## How this was measured',
    '',
    ...methodNotes(results).map((n) => `- ${n}`),
    ...results.notes.map((n) => `- ${n}`),
    '',
  ].join('\n');
}

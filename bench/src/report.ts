/**
 * Turns scenario results into the summary: comparison rows with ratios, the
 * issue's targets, unix-vs-tcp ratios, and their text / markdown renderings.
 */
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

/** One line of the comparison table. */
export interface Row {
  n: number;
  scenario: string;
  transport: TransportKind;
  metric: string;
  unit: string;
  better: 'higher' | 'lower';
  socketkit: number;
  rawWrite: number;
  rawCoalesced: number;
  /** socketkit ÷ raw per-write. */
  ratioWrite: number;
  /** socketkit ÷ raw coalesced. */
  ratioCoalesced: number;
}

/** One target of issue 6 and whether it was met. */
export interface Target {
  target: string;
  transport: TransportKind | 'both';
  measured: string;
  met: boolean | null;
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
  targets: Target[];
  unixVsTcp: UnixTcpRow[];
  /** socketkit over NATS vs over unix / tcp (absent in results from before the NATS transport). */
  viaNats?: NatsRow[];
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

/** The comparison rows (socketkit, both baselines, ratios) of scenarios 1–5. */
export function buildRows(results: ScenarioResult[]): Row[] {
  const rows: Row[] = [];
  for (const r of results) {
    if (!r.ok || r.transport === 'nats') continue;
    for (const m of METRICS[r.id] ?? []) {
      const sk = r.metrics.socketkit?.[m.key] ?? NaN;
      const rw = r.metrics['raw-write']?.[m.key] ?? NaN;
      const rc = r.metrics['raw-coalesced']?.[m.key] ?? NaN;
      rows.push({ n: r.n, scenario: r.title, transport: r.transport, metric: m.label, unit: m.unit, better: m.better, socketkit: sk, rawWrite: rw, rawCoalesced: rc, ratioWrite: sk / rw, ratioCoalesced: sk / rc });
    }
  }
  return rows;
}

const fmtRatio = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');

function find(results: ScenarioResult[], id: string, transport: TransportKind): ScenarioResult | undefined {
  return results.find((r) => r.id === id && r.transport === transport && r.ok);
}

/** Evaluates the targets of issue 6. */
export function buildTargets(results: ScenarioResult[], slow: SlowResult[]): Target[] {
  const out: Target[] = [];
  for (const transport of ['unix', 'tcp'] as const) {
    for (const [id, key, label] of [
      ['broadcast-1', 'msgsPerSec', 'Broadcast, 1 client ≥ 0.8× raw coalesced'],
      ['fanout-10', 'totalMsgsPerSec', 'Broadcast, 10 clients ≥ 0.8× raw coalesced'],
    ] as const) {
      const r = find(results, id, transport);
      const ratio = (r?.metrics.socketkit?.[key] ?? NaN) / (r?.metrics['raw-coalesced']?.[key] ?? NaN);
      out.push({ target: label, transport, measured: r === undefined ? 'not run' : `${fmtRatio(ratio)} (${formatNumber(r.metrics.socketkit?.[key] ?? NaN)} vs ${formatNumber(r.metrics['raw-coalesced']?.[key] ?? NaN)} msg/s)`, met: r === undefined ? null : ratio >= 0.8 });
    }
  }
  for (const transport of ['unix', 'tcp'] as const) {
    const r = find(results, 'reqrep', transport);
    const sk = r?.metrics.socketkit?.p50Us ?? NaN;
    const raw = Math.min(r?.metrics['raw-write']?.p50Us ?? NaN, r?.metrics['raw-coalesced']?.p50Us ?? NaN);
    const ratio = sk / raw;
    out.push({ target: 'Request/reply p50 ≤ 1.3× raw round trip (faster raw variant)', transport, measured: r === undefined ? 'not run' : `${fmtRatio(ratio)} (${sk.toFixed(1)} vs ${raw.toFixed(1)} µs)`, met: r === undefined ? null : ratio <= 1.3 });
  }
  for (const s of slow) {
    if (!s.ok) {
      out.push({ target: 'Slow consumer', transport: s.transport, measured: `failed: ${s.error ?? ''}`, met: false });
      continue;
    }
    out.push({ target: 'Slow consumer: server RSS growth < 64 MiB', transport: s.transport, measured: `+${s.rssGrowthMiBLoaded.toFixed(1)} MiB (unloaded run: +${s.rssGrowthMiBUnloaded.toFixed(1)} MiB)`, met: s.rssGrowthMiBLoaded < 64 });
    out.push({ target: 'Slow consumer: fast client ≥ 0.5× unloaded throughput', transport: s.transport, measured: `${fmtRatio(s.fastRatio)} (${s.loadedMBps.toFixed(0)} vs ${s.unloadedMBps.toFixed(0)} MB/s)`, met: s.fastRatio >= 0.5 });
  }
  const uvt = buildUnixVsTcp(results).filter((u) => u.impl === 'socketkit');
  if (uvt.length > 0) {
    const wins = uvt.filter((u) => u.unixAdvantage > 1).length;
    const lo = Math.min(...uvt.map((u) => u.unixAdvantage));
    const hi = Math.max(...uvt.map((u) => u.unixAdvantage));
    out.push({ target: 'Unix sockets beat TCP (throughput and latency)', transport: 'both', measured: `unix better in ${wins} of ${uvt.length} figures, ${fmtRatio(lo)}–${fmtRatio(hi)}`, met: wins === uvt.length });
  }
  return out;
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
      for (const impl of ['socketkit', 'raw-coalesced'] as const) {
        const a = u.metrics[impl]?.[m.key] ?? NaN;
        const b = t.metrics[impl]?.[m.key] ?? NaN;
        out.push({ n: u.n, scenario: u.title, metric: `${m.label} (${m.unit})`, impl, unix: a, tcp: b, unixAdvantage: m.better === 'higher' ? a / b : b / a });
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
      out.push({ n: n.n, scenario: n.title, metric: m.label, unit: m.unit, better: m.better, unix, tcp, nats, natsOverUnix: nats / unix, natsOverTcp: nats / tcp });
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
  const line = (cells: string[]): string => cells.map((c, i) => (t.right?.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
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

/** The main comparison table. */
export function resultsTable(rows: Row[]): Table {
  return {
    header: ['#', 'scenario', 'transport', 'metric', 'socketkit', 'raw per-write', 'raw coalesced', 'sk ÷ per-write', 'sk ÷ coalesced'],
    right: [4, 5, 6, 7, 8],
    rows: rows.map((r) => [String(r.n), r.scenario, r.transport, `${r.metric} (${r.better === 'higher' ? '↑' : '↓'})`, fmtValue(r.socketkit, r.unit), fmtValue(r.rawWrite, r.unit), fmtValue(r.rawCoalesced, r.unit), fmtRatio(r.ratioWrite), fmtRatio(r.ratioCoalesced)]),
  };
}

/** The slow-consumer table. */
export function slowTable(slow: SlowResult[]): Table {
  return {
    header: ['transport', 'offered / run', 'fast client unloaded', 'fast client loaded', 'loaded ÷ unloaded', 'server RSS growth loaded', 'RSS growth unloaded', 'RSS growth, worst run', 'slow client outcome'],
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
            `+${Math.max(...s.runs.map((r) => r.rssGrowthMiB)).toFixed(1)} MiB (${s.runs.reduce((a, r) => (r.rssGrowthMiB > a.rssGrowthMiB ? r : a)).loaded ? 'loaded' : 'unloaded'})`,
            Number.isFinite(s.slowDroppedAtMiB)
              ? `disconnected with ${s.slowCode || '?'} (${s.slowWhy}) after ${s.slowDroppedAtMiB.toFixed(1)} MiB offered, ${s.slowPendingMiB.toFixed(1)} MiB pending; longest drain() ${s.drainMaxMs.toFixed(0)} ms`
              : 'not disconnected',
          ]
        : [s.transport, 'failed', s.error ?? '', '', '', '', '', '', ''],
    ),
  };
}

/** The targets table. */
export function targetsTable(targets: Target[]): Table {
  return { header: ['target', 'transport', 'measured', 'met'], rows: targets.map((t) => [t.target, t.transport, t.measured, t.met === null ? 'n/a' : t.met ? 'yes' : 'NO']) };
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
    rows: rows.map((r) => [String(r.n), r.scenario, `${r.metric} (${r.better === 'higher' ? '↑' : '↓'})`, fmtValue(r.unix, r.unit), fmtValue(r.tcp, r.unit), fmtValue(r.nats, r.unit), fmtRatio(r.natsOverUnix), fmtRatio(r.natsOverTcp)]),
  };
}

/** Lines describing how the figures were measured. */
export function methodNotes(results: BenchResults): string[] {
  const m = results.meta;
  return [
    `Every figure is the median of ${m.reps} measured runs (after one warm-up run); in each run socketkit and both raw baselines take turns (order rotated per run) in the same worker processes.`,
    'Server and every client/writer run in separate Node processes (child_process.fork); times come from CLOCK_MONOTONIC (process.hrtime), shared by all processes on the host.',
    'Throughput = messages ÷ (time the last client got the last message − time the producer started). MB/s counts frame bytes on the wire (10^6 bytes), all clients together.',
    'Raw baselines: node:net + msgpackr (useRecords: false), the same 4-byte big-endian length prefix and the same msgpack map (event_name, timestamp_ms, Python-style timestamp_iso, message_type, data); no validation, no handshake. "per-write" calls socket.write once per frame; "coalesced" corks the socket for the rest of the tick (one writev per batch); socketkit concatenates the small frames of a tick into one write per connection.',
    'Producers (socketkit and raw alike) check for back-pressure every 64 KiB offered: socketkit awaits server.drain(), the raw server awaits "drain" on the sockets above their high-water mark. Writers (scenario 5) yield to the event loop every 64 KiB.',
    'Request/reply: one request in flight at a time; socketkit uses client.request() and a server handler, the raw client matches reply_to itself.',
    `Slow consumer: a socketkit server broadcasts 64 KiB messages to a fast client (counting them) and a second client that stopped reading (receive buffer of 1 message, so it pauses its socket). Runs alternate unloaded (fast client only) and loaded. The producer awaits server.drain() every 1 MiB offered; the server runs with drainTimeout ${SLOW_DRAIN_TIMEOUT_MS} ms (library default 5000 ms), the time drain() waits for a client before the slow-consumer policy drops it (with the default, a client that stops reading holds the producer, and so the fast client, for 5 s once before it is dropped). RSS is sampled in the server process every 5 ms and at every drain, from just before the run until the slow client's connection is closed.`,
    ...(results.viaNats !== undefined && results.viaNats.length > 0
      ? [
          'NATS (scenarios 1, 2 and 4 only): the same socketkit scenarios through @socketkit/nats (NatsSocketServer / NatsSocketClient, same API) and one local nats-server (default settings, 127.0.0.1, started by the run and stopped at its end), so every frame crosses the broker: producer → nats-server → consumer. There is no raw baseline and no target for NATS; the figures show what crossing a broker costs next to socketkit over unix and tcp in the same run. Ratios are plain nats ÷ unix and nats ÷ tcp: below 1× on ↑ rows and above 1× on ↓ rows means NATS is slower.',
        ]
      : []),
    `msgpackr native acceleration (isNativeAccelerationEnabled after one unpack in a socketkit worker): ${m.msgpackrNative === null ? 'unknown' : m.msgpackrNative ? 'enabled' : 'disabled'}.`,
  ];
}

/** The whole report as markdown (`latest.md`). */
export function markdownReport(results: BenchResults, chartFile: string): string {
  const m = results.meta;
  return [
    `# socketkit benchmark — ${m.mode} run`,
    '',
    `${m.startedAt} · Node ${m.node} · ${m.platform} · ${m.cpus} × ${m.cpuModel} · ${m.memoryGiB} GiB RAM · ${m.durationSeconds.toFixed(0)} s · load average ${m.loadAverage.start.toFixed(1)} → ${m.loadAverage.end.toFixed(1)} · commit ${m.gitCommit || 'unknown'}`,
    '',
    `![benchmark chart](${chartFile})`,
    '',
    '## Scenarios 1–5: socketkit vs raw node:net baselines',
    '',
    '↑ higher is better, ↓ lower is better. A ratio above 1× means socketkit is faster for ↑ rows and slower for ↓ rows.',
    '',
    markdownTable(resultsTable(results.rows)),
    '',
    '## Scenario 6: slow consumer',
    '',
    markdownTable(slowTable(results.slowConsumer)),
    '',
    '## Targets (issue 6)',
    '',
    markdownTable(targetsTable(results.targets)),
    '',
    '## Unix sockets vs TCP',
    '',
    markdownTable(unixTcpTable(results.unixVsTcp)),
    '',
    ...(results.viaNats !== undefined && results.viaNats.length > 0
      ? [
          '## NATS: what crossing a broker costs',
          '',
          'socketkit over a local nats-server (scenarios 1, 2 and 4; no raw baseline, no target) next to socketkit over Unix sockets and TCP in the same run. Ratios are nats ÷ unix and nats ÷ tcp: below 1× on ↑ rows, above 1× on ↓ rows means NATS is slower.',
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

/**
 * What `latest.json` holds and the figures derived from scenario results:
 * comparison rows with their ratio to the ceiling, socketkit ÷ each baseline,
 * unix vs tcp, and socketkit over NATS next to unix and tcp.
 */
import type { Impl, TransportKind } from '../harness/types.js';
import type { BrokerResults } from '../scenarios/broker.js';
import type { PythonBrokerResult } from '../scenarios/python-broker.js';
import type { ScalingPoint } from '../scenarios/scaling.js';
import type { ScenarioResult } from '../scenarios/messaging.js';
import type { SlowResult } from '../scenarios/slow-consumer.js';
import type { StatsCostResult } from '../scenarios/stats-cost.js';
import type { FunctionCost } from './profile-summary.js';

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

/**
 * socketkit's ratios in one scenario over one transport: to the ceiling, to per-write raw, to zeromq.js, to the Python
 * peer.
 */
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
  /** The task broker (`@socketkit/broker`) beside RabbitMQ and BullMQ (absent when not selected). */
  broker?: BrokerResults;
  /** Broker tasks/s with Python workers beside Node workers (absent when not selected and in older results). */
  pythonBroker?: PythonBrokerResult;
  /** [issue 27] The JetStream backend beside a raw `@nats-io/jetstream` work queue (absent when not selected). */
  jetstream?: import('../scenarios/jetstream.js').JetStreamScenarioResult;
  /** [issue 28: cold start and first messages] import time, cold start, cold burst, drain cadence, shapes. */
  cold?: import('../scenarios/cold.js').ColdResults;
  /** [issue 28: idle clients] 1 … 10,000 idle clients: memory per client, idle and fan-out CPU. */
  idle?: import('../scenarios/idle.js').IdleResults;
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
export function ceilingOf(r: ScenarioResult, key: string, better: 'higher' | 'lower'): number {
  if (r.transport === 'nats') return r.metrics['nats-raw']?.[key] ?? NaN;
  const v = [r.metrics['raw-write']?.[key], r.metrics['raw-batched']?.[key]].filter(
    (x): x is number => x !== undefined && Number.isFinite(x),
  );
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

/** The successful result of scenario `id` over `transport`, if it ran. */
export function findResult(
  results: ScenarioResult[],
  id: string,
  transport: TransportKind,
): ScenarioResult | undefined {
  return results.find((r) => r.id === id && r.transport === transport && r.ok);
}

/** unix ÷ tcp for the headline figure of each scenario (latency inverted, so >1 always means unix is better). */
export function buildUnixVsTcp(results: ScenarioResult[]): UnixTcpRow[] {
  const out: UnixTcpRow[] = [];
  for (const id of Object.keys(METRICS)) {
    const u = findResult(results, id, 'unix');
    const t = findResult(results, id, 'tcp');
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
    const u = findResult(results, n.id, 'unix');
    const t = findResult(results, n.id, 'tcp');
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

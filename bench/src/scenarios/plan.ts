/**
 * What a run measures and how much: the six scenarios, the plan (counts and
 * repetitions, full or quick), which implementations run which scenario, and
 * the payload sizes the scenarios share.
 */
import type { Impl, TransportKind } from '../harness/types.js';

/** Identifiers of the six scenarios of issue 6. */
export type ScenarioId = 'broadcast-1' | 'fanout-10' | 'large-64k' | 'reqrep' | 'ingress-8' | 'slow-consumer';

/** Counts and repetitions of one invocation. */
export interface Plan {
  quick: boolean;
  /** Measured runs per figure (the figure is their median). */
  reps: number;
  broadcastCount: number;
  fanoutCount: number;
  largeCount: number;
  reqrepCount: number;
  reqrepWarmup: number;
  ingressPerWriter: number;
  /** Bytes the slow-consumer producer offers per run. */
  slowBytes: number;
  /**
   * Messages delivered per scaling-curve run, all clients together (messages broadcast = this ÷ clients, at least 50).
   */
  scalingDeliveries: number;
  /** Largest client count of the scaling curve (1, 10, 100, 1000 up to this). */
  scalingMaxClients: number;
  /** Node flags for the workers (e.g. `--cpu-prof`). */
  execArgv: string[];
  /** URL of the nats-server the `nats` transport uses (set by run.ts when nats runs). */
  natsUrl?: string;
}

/** Full plan (`pnpm bench`) and quick plan (`--quick`, CLI `socketkit bench`, smoke test). */
export function makePlan(quick: boolean, reps?: number): Plan {
  const base: Plan = quick
    ? {
        quick,
        reps: 3,
        broadcastCount: 10_000,
        fanoutCount: 2_000,
        largeCount: 250,
        reqrepCount: 500,
        reqrepWarmup: 200,
        ingressPerWriter: 2_000,
        slowBytes: 256 * 2 ** 20,
        scalingDeliveries: 20_000,
        scalingMaxClients: 1000,
        execArgv: [],
      }
    : {
        quick,
        // Five, not three: on a shared 2-core host one run in three was often off by 20 % or more.
        reps: 5,
        // Long enough (about half a second per run) that a one-off collection of start-up garbage in
        // one of the eleven processes does not decide a run: 50k / 10k runs lasted 0.1-0.15 s.
        broadcastCount: 200_000,
        fanoutCount: 50_000,
        largeCount: 2_000,
        // p99 is the 100th slowest of 10,000 round trips, not the 20th of 2,000 (one scheduler hiccup moved it).
        reqrepCount: 10_000,
        reqrepWarmup: 500,
        ingressPerWriter: 8_000,
        slowBytes: 2 ** 29,
        scalingDeliveries: 100_000,
        scalingMaxClients: 1000,
        execArgv: [],
      };
  if (reps !== undefined) base.reps = reps;
  return base;
}

/** Static description of a scenario. */
export interface ScenarioDef {
  id: ScenarioId;
  n: number;
  title: string;
}

/** The six scenarios in order. */
export const SCENARIOS: readonly ScenarioDef[] = [
  { id: 'broadcast-1', n: 1, title: 'Broadcast, 1 client, 100 B' },
  { id: 'fanout-10', n: 2, title: 'Fan-out, 10 clients, 100 B' },
  { id: 'large-64k', n: 3, title: 'Large messages, 64 KiB, 1 client' },
  { id: 'reqrep', n: 4, title: 'Request/reply round trip' },
  { id: 'ingress-8', n: 5, title: 'Ingress, 8 writer processes' },
  { id: 'slow-consumer', n: 6, title: 'Slow consumer (1 stopped + 1 fast client)' },
];

/** Scenarios that also run over NATS (socketkit and plain nats.js through the same nats-server). */
export const NATS_SCENARIOS: readonly ScenarioId[] = ['broadcast-1', 'fanout-10', 'reqrep'];

/** Scenarios the other peers (zeromq.js, the Python reference peer) run: broadcast, fan-out, 64 KiB, round trips. */
const PEER_SCENARIOS: readonly ScenarioId[] = ['broadcast-1', 'fanout-10', 'large-64k', 'reqrep'];

/** The implementations that run scenario `id` over `transport`, in table order, among `wanted`. */
export function implsFor(id: ScenarioId, transport: TransportKind, wanted: readonly Impl[]): Impl[] {
  const all: Impl[] =
    transport === 'nats'
      ? ['socketkit', 'nats-raw']
      : PEER_SCENARIOS.includes(id)
        ? ['socketkit', 'raw-write', 'raw-batched', 'zeromq', 'python']
        : ['socketkit', 'raw-write', 'raw-batched'];
  return all.filter((i) => wanted.includes(i));
}

/** Metric values of one run (or the medians), by metric name. */
export type Metrics = Record<string, number>;

/** Progress reporting hooks. */
export interface Progress {
  step(text: string): void;
  detail(text: string): void;
}

/** Payload of the small-message scenarios (bytes). */
export const SMALL = 100;
/** Payload of the large-message scenarios (bytes). */
export const LARGE = 64 * 1024;
/** The producers call `drain()` every 64 KiB offered (every message for 64 KiB messages). */
export const DRAIN_EVERY = 64 * 1024;

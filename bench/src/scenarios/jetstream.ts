/**
 * The JetStream backend of `@socketkit/broker` beside a raw `@nats-io/jetstream`
 * work-queue program written the obvious way (../contenders/jetstream-raw.ts),
 * through one local nats-server with JetStream on (file storage), in the same
 * run: tasks/s with no-op tasks (a window of outstanding tasks) and the task
 * round trip p50/p99 (one task at a time), the contenders alternated `reps`
 * times, medians. Target: at least 0.8x the raw program. The single-process
 * broker (memory and durable, over a Unix socket, same shape) is measured
 * once beside them, for scale. Everything runs in
 * this one process (workers and submitter on their own NATS connections).
 *
 * node bench/dist/scenarios/jetstream.js [--tasks 5000] [--workers 4] [--prefetch 16] [--window 256] [--rtt 500]
 * [--reps 3]
 *
 * Prints a table and writes bench/results/jetstream.json. Skipped (with a note) without nats-server.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Communicator, connect, type JetStreamCommunicator, startBroker } from '@socketkit/broker';
import { freePort, natsBinary, waitAccepting } from '@socketkit/test-support';
import { startRawQueue } from '../contenders/jetstream-raw.js';

/** Figures of one contender. */
export interface JetStreamFigures {
  contender: 'socketkit-jetstream' | 'raw-jetstream' | 'broker-memory' | 'broker-durable';
  tasksPerSec: number;
  rttP50Ms: number;
  rttP99Ms: number;
  /**
   * CPU time of this process (user + system) per task during the throughput run, in microseconds (nats-server not
   * included).
   */
  cpuUsPerTask: number;
}

/** The scenario's result: both contenders and the ratios. */
export interface JetStreamScenarioResult {
  ok: boolean;
  note?: string;
  params: { tasks: number; workers: number; prefetch: number; window: number; rtt: number; reps: number };
  figures: JetStreamFigures[];
  ratio?: { tasksPerSec: number; rttP50: number };
  targetMet?: boolean;
}

const binary = natsBinary;

const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;

/** Sends `tasks` with at most `window` outstanding; returns tasks/s and this process's CPU µs per task. */
async function throughput(
  send: (body: unknown) => Promise<unknown>,
  tasks: number,
  window: number,
): Promise<{ tasksPerSec: number; cpuUsPerTask: number }> {
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const lane = async (): Promise<void> => {
    while (next < tasks) {
      next++;
      await send({ n: next });
    }
  };
  await Promise.all(Array.from({ length: window }, lane));
  const cpu = process.cpuUsage(cpu0);
  return {
    tasksPerSec: Math.round(tasks / ((performance.now() - t0) / 1000)),
    cpuUsPerTask: Math.round((cpu.user + cpu.system) / tasks),
  };
}

/** One task at a time; returns sorted round trips in ms. */
async function roundTrips(send: (body: unknown) => Promise<unknown>, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await send({ i });
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

/** One contender's figures: a warm-up of at most 500 tasks, the throughput run, then one-at-a-time round trips. */
async function measure(
  contender: JetStreamFigures['contender'],
  send: (body: unknown) => Promise<unknown>,
  p: JetStreamScenarioResult['params'],
): Promise<JetStreamFigures> {
  await throughput(send, Math.min(500, p.tasks), p.window); // warm-up
  const { tasksPerSec, cpuUsPerTask } = await throughput(send, p.tasks, p.window);
  const rtt = await roundTrips(send, p.rtt);
  return { contender, tasksPerSec, rttP50Ms: pct(rtt, 50), rttP99Ms: pct(rtt, 99), cpuUsPerTask };
}

async function socketkit(
  servers: string,
  p: JetStreamScenarioResult['params'],
  rep: number,
): Promise<JetStreamFigures> {
  const name = `bench${process.pid}r${rep}`;
  const comms: JetStreamCommunicator[] = [];
  for (let i = 0; i < p.workers; i++) {
    const w = await connect({ transport: 'jetstream', servers, name, replicas: 1 });
    await w.addTaskSubscriber((body) => body, { prefetch: p.prefetch });
    comms.push(w);
  }
  const client = await connect({ transport: 'jetstream', servers, name, replicas: 1 });
  comms.push(client);
  try {
    return await measure('socketkit-jetstream', (b) => client.taskSend(b), p);
  } finally {
    await Promise.all(comms.map((c) => c.close()));
  }
}

/** The single-process socketkit broker over a Unix socket, in memory or durable (LMDB), same shape. */
async function broker(durable: boolean, p: JetStreamScenarioResult['params']): Promise<JetStreamFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'skbench-broker-'));
  const b = await startBroker(durable ? { socketDir: dir, store: { path: join(dir, 'store') } } : { socketDir: dir });
  const comms: Communicator[] = [];
  try {
    for (let i = 0; i < p.workers; i++) {
      const w = await connect({ socketDir: dir });
      await w.addTaskSubscriber((body) => body, { prefetch: p.prefetch });
      comms.push(w);
    }
    const client = await connect({ socketDir: dir });
    comms.push(client);
    return await measure(durable ? 'broker-durable' : 'broker-memory', (x) => client.taskSend(x), p);
  } finally {
    await Promise.all(comms.map((c) => c.close()));
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function raw(servers: string, p: JetStreamScenarioResult['params'], rep: number): Promise<JetStreamFigures> {
  const q = await startRawQueue(servers, `RAW${process.pid}R${rep}`, p.workers, p.prefetch);
  try {
    return await measure('raw-jetstream', (b) => q.send(b), p);
  } finally {
    await q.close();
  }
}

/** How {@link runJetStreamScenario} runs beside the rest of the bench. */
export interface JetStreamRunOptions {
  /** Also measure the single-process broker (memory, durable) in the same shape (default true). */
  brokers?: boolean;
  /** Called after each measured run (progress). */
  progress?: (line: string) => void;
}

/** Runs the scenario (starts and stops its own nats-server). */
export async function runJetStreamScenario(
  params: Partial<JetStreamScenarioResult['params']> = {},
  options: JetStreamRunOptions = {},
): Promise<JetStreamScenarioResult> {
  const say = options.progress ?? ((): void => undefined);
  const line = (f: JetStreamFigures): string =>
    `${f.contender} ${f.tasksPerSec} tasks/s, ${f.cpuUsPerTask} µs CPU/task, ` +
    `round trip p50 ${f.rttP50Ms.toFixed(2)} ms`;
  const p = { tasks: 5000, workers: 4, prefetch: 16, window: 256, rtt: 500, reps: 3, ...params };
  if (binary === undefined)
    return {
      ok: false,
      note: 'JetStream bench skipped: nats-server is not installed (apt-get install nats-server)',
      params: p,
      figures: [],
    };
  const dir = mkdtempSync(join(tmpdir(), 'skbench-js-'));
  const port = await freePort();
  const proc = spawn(binary, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
  try {
    try {
      await waitAccepting(port, proc, 'nats-server -js');
    } catch (err) {
      return { ok: false, note: `JetStream bench skipped: ${(err as Error).message}`, params: p, figures: [] };
    }
    const servers = `nats://127.0.0.1:${port}`;
    // Alternate the contenders, `reps` runs each; every figure is the median.
    const runs: JetStreamFigures[][] = [[], []];
    for (let i = 0; i < p.reps; i++) {
      const r = await raw(servers, p, i);
      say(`run ${i + 1}/${p.reps}: ${line(r)}`);
      (runs[1] as JetStreamFigures[]).push(r);
      const s = await socketkit(servers, p, i);
      say(`run ${i + 1}/${p.reps}: ${line(s)}`);
      (runs[0] as JetStreamFigures[]).push(s);
    }
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const [s1, r1] = runs.map((rs) => ({
      contender: (rs[0] as JetStreamFigures).contender,
      tasksPerSec: median(rs.map((r) => r.tasksPerSec)),
      rttP50Ms: median(rs.map((r) => r.rttP50Ms)),
      rttP99Ms: median(rs.map((r) => r.rttP99Ms)),
      cpuUsPerTask: median(rs.map((r) => r.cpuUsPerTask)),
    })) as [JetStreamFigures, JetStreamFigures];
    // The single-process broker beside them (one run each: for scale, not part of the target).
    const figures = [s1, r1];
    if (options.brokers !== false) figures.push(await broker(false, p), await broker(true, p));
    const ratio = {
      tasksPerSec: Math.round((s1.tasksPerSec / r1.tasksPerSec) * 100) / 100,
      rttP50: Math.round((s1.rttP50Ms / r1.rttP50Ms) * 100) / 100,
    };
    return { ok: true, params: p, figures, ratio, targetMet: ratio.tasksPerSec >= 0.8 };
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (k: string): number | undefined => {
    const i = process.argv.indexOf(`--${k}`);
    return i < 0 ? undefined : Number(process.argv[i + 1]);
  };
  const params: Partial<JetStreamScenarioResult['params']> = {};
  for (const k of ['tasks', 'workers', 'prefetch', 'window', 'rtt', 'reps'] as const) {
    const v = arg(k);
    if (v !== undefined) params[k] = v;
  }
  const r = await runJetStreamScenario(params);
  if (!r.ok) console.log(r.note);
  for (const f of r.figures)
    console.log(
      `${f.contender.padEnd(20)} ${String(f.tasksPerSec).padStart(7)} tasks/s   round trip p50 ` +
        `${f.rttP50Ms.toFixed(2)} ms`,
      ` p99 ${f.rttP99Ms.toFixed(2)} ms  ${f.cpuUsPerTask} µs CPU/task`,
    );
  if (r.ratio)
    console.log(
      `socketkit / raw: ${r.ratio.tasksPerSec}x tasks/s (target 0.8x: ${r.targetMet ? 'met' : 'missed'}), ` +
        `${r.ratio.rttP50}x round trip p50`,
    );
  const out = fileURLToPath(new URL('../../results/', import.meta.url));
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'jetstream.json'), `${JSON.stringify({ date: new Date().toISOString(), ...r }, null, 2)}\n`);
}

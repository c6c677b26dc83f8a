// JetStream backend chaos run: a three-node nats-server cluster with JetStream (R3), worker and submitter processes
// spread over the nodes; SIGKILL the task stream's leader mid-run, bring it back, then SIGKILL a second node (the new
// leader) and bring it back. Counts outcomes by task on the submitters (0 lost, 0 duplicate outcomes), executions and
// redeliveries on the workers, reconnects of every process, and the time to recover after each kill.
//
//   node packages/broker/scripts/jetstream-chaos.mjs            # the full run: 1,000 tasks, 8 workers, 3 submitters
//   node packages/broker/scripts/jetstream-chaos.mjs 200 4 2 15 # tasks, workers, submitters, seconds of submitting
//
// Needs the built package (dist) and nats-server (/usr/sbin/nats-server). test/jetstream-chaos.test.ts runs a bounded
// sample of the same function.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { jetStreamStats } from '../dist/index.js';

const FIXTURE = fileURLToPath(new URL('../test/jetstream-fixture.mjs', import.meta.url));
const binary = ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'].find(
  (p) => spawnSync(p, ['--version']).status === 0,
);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
const accepting = (port) =>
  new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });

async function cluster(size) {
  const dir = mkdtempSync(join(tmpdir(), 'skjs-chaos-'));
  const ports = [];
  const cports = [];
  for (let i = 0; i < size; i++) {
    ports.push(await freePort());
    cports.push(await freePort());
  }
  const routes = cports.map((p) => `nats://127.0.0.1:${p}`).join(',');
  const nodes = ports.map((port, i) => {
    const name = `n${i + 1}`;
    const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, name), '-n', name];
    args.push('--cluster_name', 'sk', '--cluster', `nats://127.0.0.1:${cports[i]}`, '--routes', routes);
    const node = {
      name,
      url: `nats://127.0.0.1:${port}`,
      proc: undefined,
      async start() {
        node.proc = spawn(binary, args, { stdio: 'ignore' });
        while (!(await accepting(port))) {
          if (node.proc.exitCode !== null) throw new Error(`nats-server ${name} exited`);
          await sleep(20);
        }
      },
      async kill(signal = 'SIGKILL') {
        const p = node.proc;
        if (!p || p.exitCode !== null || p.signalCode !== null) return;
        p.kill(signal);
        await once(p, 'exit');
      },
    };
    return node;
  });
  await Promise.all(nodes.map((n) => n.start()));
  return {
    nodes,
    urls: nodes.map((n) => n.url),
    async stop() {
      await Promise.all(nodes.map((n) => n.kill('SIGTERM')));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function child(config) {
  const proc = spawn(process.execPath, [FIXTURE, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const events = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    try {
      events.push(JSON.parse(line));
    } catch {
      // not an event
    }
  });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  return {
    proc,
    events,
    exited,
    has: (pred) => events.some(pred),
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

async function until(cond, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The stream's leader and how many replicas are current, or undefined while there is none. */
async function leader(urls, name) {
  try {
    const s = await jetStreamStats({ servers: urls, name, nats: { timeout: 1000 } });
    return s.cluster;
  } catch {
    return undefined;
  }
}

/**
 * Runs the chaos scenario and returns its figures. Throws when the cluster cannot start or the run does not finish
 * within `timeoutMs`; the caller checks the figures.
 */
export async function runChaos({
  tasks = 1000,
  workers = 8,
  submitters = 3,
  prefetch = 4,
  sleepMs = 20,
  ackWaitMs = 2000,
  submitSeconds = 12,
  timeoutMs = 120_000,
  log = () => undefined,
} = {}) {
  if (binary === undefined) throw new Error('no nats-server binary');
  const c = await cluster(3);
  const children = [];
  const name = `chaos${process.pid}`;
  // Each process lists every node, its own "host" first (no randomizing), so connections are spread over the nodes.
  const conn = (i) => ({
    servers: [...c.urls.slice(i % 3), ...c.urls.slice(0, i % 3)],
    name,
    ackWaitMs,
    nats: { noRandomize: true },
  });
  try {
    // Wait for the JetStream meta leader, then create the namespace (R3) from this process.
    const t0 = Date.now();
    await until(
      async () => (await leader(c.urls, name)) !== undefined || (await tryCreate(c.urls, name, ackWaitMs)),
      30_000,
      'JetStream ready',
    );
    log(`cluster ready in ${Date.now() - t0} ms`);
    const ws = Array.from({ length: workers }, (_, i) => child({ role: 'worker', conn: conn(i), prefetch, sleepMs }));
    children.push(...ws);
    await until(() => ws.every((w) => w.has((e) => e.ev === 'ready')), 30_000, 'workers ready');
    const per = Math.ceil(tasks / submitters);
    const rate = Math.max(1, Math.ceil(per / submitSeconds)); // the run spans both kills
    const ss = Array.from({ length: submitters }, (_, i) =>
      child({
        role: 'submitter',
        conn: conn(i + 1),
        count: i === submitters - 1 ? tasks - per * (submitters - 1) : per,
        prefix: `s${i}`,
        ratePerSec: rate,
        linger: 1500,
      }),
    );
    children.push(...ss);
    const outcomes = () => ss.reduce((n, s) => n + s.events.filter((e) => e.ev === 'outcome').length, 0);
    const kills = [];
    const done = () => ss.every((s) => s.has((e) => e.ev === 'done'));
    const kill = async (atOutcomes) => {
      await until(() => outcomes() >= atOutcomes || done(), timeoutMs, `${atOutcomes} outcomes`);
      let l;
      await until(async () => (l = await leader(c.urls, name))?.leader !== undefined, 30_000, 'the stream leader');
      const node = c.nodes.find((n) => n.name === l.leader);
      const at = Date.now();
      const record = { node: node.name, at, outcomesBefore: outcomes() };
      await node.kill('SIGKILL');
      kills.push(record);
      log(`killed ${node.name} (stream leader) at ${record.outcomesBefore} outcomes`);
      // Recovered: outcomes flow again (or the run is over).
      await until(() => outcomes() > record.outcomesBefore + 5 || done(), timeoutMs, 'outcomes after the kill');
      record.progressMs = Date.now() - at;
      log(`outcomes flow again ${record.progressMs} ms after the kill`);
      await node.start();
      await until(async () => (await leader(c.urls, name))?.current === 3, 60_000, `${node.name} current again`);
      record.backMs = Date.now() - at;
      record.newLeader = (await leader(c.urls, name))?.leader;
      log(`${node.name} restarted and current ${record.backMs} ms after the kill (leader now ${record.newLeader})`);
    };
    await kill(Math.floor(tasks * 0.15));
    await kill(Math.floor(tasks * 0.5));
    await until(() => ss.every((s) => s.has((e) => e.ev === 'final')), timeoutMs, 'every submitter done');

    const outs = ss.flatMap((s) => s.events.filter((e) => e.ev === 'outcome'));
    const failures = ss.flatMap((s) => s.events.filter((e) => e.ev === 'failure'));
    const starts = ws.flatMap((w) => w.events.filter((e) => e.ev === 'start'));
    const stale = ws.reduce((n, w) => n + w.events.filter((e) => e.ev === 'stale').length, 0);
    // Time to recover: the longest pause between two outcomes after each kill.
    const times = outs.map((o) => o.t).sort((a, b) => a - b);
    kills.forEach((k, j) => {
      const end = kills[j + 1]?.at ?? k.at + 30_000;
      const after = times.filter((t) => t >= k.at && t < end);
      const prev = times.filter((t) => t < k.at).pop() ?? k.at;
      let gap = (after[0] ?? k.at) - prev;
      for (let i = 1; i < after.length; i++) gap = Math.max(gap, after[i] - after[i - 1]);
      k.recoverMs = gap;
    });
    const procs = [...ws, ...ss];
    const dropped = procs.filter((p) => p.has((e) => e.ev === 'disconnected'));
    const back = dropped.filter((p) => {
      const last = p.events.filter((e) => e.ev === 'disconnected').pop();
      return p.events.some((e) => e.ev === 'connected' && e.t >= last.t);
    });
    return {
      tasks,
      workers,
      submitters,
      outcomes: outs.length,
      uniqueOutcomes: new Set(outs.map((o) => o.n)).size,
      failures: failures.length,
      failureCodes: [...new Set(failures.map((f) => f.code))],
      duplicateOutcomesRefused: ss.reduce(
        (n, s) => n + (s.events.find((e) => e.ev === 'final')?.duplicateOutcomes ?? 0),
        0,
      ),
      executions: starts.length,
      redelivered: starts.filter((s) => s.redelivered).length,
      staleResults: stale,
      processesDisconnected: dropped.length,
      processesReconnected: back.length,
      kills,
      totalMs: Date.now() - t0,
    };
  } finally {
    for (const ch of children) ch.kill();
    await Promise.all(children.map((ch) => ch.exited));
    await c.stop();
  }
}

async function tryCreate(urls, name, ackWaitMs) {
  try {
    const { connect } = await import('../dist/index.js');
    const comm = await connect({
      transport: 'jetstream',
      servers: urls,
      name,
      ackWaitMs,
      nats: { maxReconnectAttempts: 1 },
    });
    await comm.close();
    return true;
  } catch {
    return false;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [tasks = 1000, workers = 8, submitters = 3, submitSeconds = 25] = process.argv.slice(2).map(Number);
  const figures = await runChaos({
    tasks,
    workers,
    submitters,
    submitSeconds,
    timeoutMs: 300_000,
    log: (s) => console.error(s),
  });
  console.log(JSON.stringify(figures, null, 2));
  const ok = figures.outcomes === tasks && figures.uniqueOutcomes === tasks && figures.failures === 0;
  process.exit(ok ? 0 : 1);
}

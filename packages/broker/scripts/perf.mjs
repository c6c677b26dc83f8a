#!/usr/bin/env node
// CPU per task and round-trip latency of the memory-mode broker, for work on its hot path (the bench,
// `node bench/dist/run.js --only broker`, is the reference; this is the quick loop without RabbitMQ/BullMQ):
//   a broker process, W worker processes (no-op tasks, prefetch P), S submitter processes keeping I tasks
//   each in flight; CPU (user+sys) of every process ÷ tasks; then one task at a time (round trip p50/p99) beside
//   socketkit's plain request/reply over unix between the same two processes.
// Several builds compare interleaved in one run (A, B, A, B ...): copy a build into the package (a directory
// beside dist/, so its imports resolve) and name it: --dist dist,dist-base.
//   node packages/broker/scripts/perf.mjs [--dist dist] [--tasks 20000] [--reps 3] [--workers 8] [--prefetch 4]
//     [--submitters 2] [--inflight 256] [--rtt 1000] [--durable]  (--durable: an LMDB store in the temp dir)
//   PERF_PROF=DIR: a .cpuprofile per process, of the measured window only.
//   PERF_NODE_ARGS="--flag ...": Node/V8 flags for every child process (e.g. --single-threaded-gc).
import { fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const SELF = fileURLToPath(import.meta.url);
const PKG = fileURLToPath(new URL('..', import.meta.url));
const role = process.env.PERF_ROLE;
const PROF = process.env.PERF_PROF; // a directory: every child runs under --cpu-prof
let spawned = 0;

const now = () => Number(process.hrtime.bigint());

function cpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Read and write system calls of this process so far (/proc/self/io; 0 where there is none). */
function syscalls() {
  try {
    const io = readFileSync('/proc/self/io', 'utf8');
    const get = (k) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(io)?.[1] ?? 0);
    return get('syscr') + get('syscw');
  } catch {
    return 0;
  }
}

/** CPU µs so far of this process's JS thread and of its other threads (V8's compilers and GC helpers, libuv). */
function threadsCpu() {
  const out = { js: 0, other: 0 };
  try {
    const tick = 1e6 / 100; // µs per clock tick (USER_HZ 100 on Linux)
    for (const t of readdirSync('/proc/self/task')) {
      const f = readFileSync(`/proc/self/task/${t}/stat`, 'utf8').split(') ')[1].split(' ');
      const us = (Number(f[11]) + Number(f[12])) * tick;
      if (t === String(process.pid)) out.js += us;
      else out.other += us;
    }
  } catch {}
  return out;
}

async function child() {
  const dist = process.env.PERF_DIST;
  const { connect, startBroker } = await import(join(PKG, dist, 'index.js'));
  const cfg = JSON.parse(process.env.PERF_CFG);
  let broker;
  let comm;
  let rrServer;
  let rrClient;
  let executed = 0;
  let frames = 0; // socketkit messages received by a client (a `batch` frame counts once)
  let session;
  const body = { n: 0, pad: 'x'.repeat(80) };
  const handlers = {
    async start() {
      if (role === 'broker') {
        broker = await startBroker({
          transport: 'unix',
          socketDir: cfg.dir,
          eventName: 'perf',
          logLevel: 'error',
          ...(cfg.durable ? { store: { path: join(cfg.dir, 'store') } } : {}),
        });
        const { UnixSocketServer } = await import('@socketkit/unix');
        rrServer = new UnixSocketServer({
          socketDir: cfg.dir,
          eventName: 'rr',
          logLevel: 'error',
          handler: () => ({ ok: true }),
        });
        await rrServer.start();
        return;
      }
      comm = await connect({ transport: 'unix', socketDir: cfg.dir, eventName: 'perf', logLevel: 'error' });
      comm.client.on('message', () => frames++);
      if (role === 'worker') {
        await comm.addTaskSubscriber(
          async (b) => {
            executed++;
            // the round trip's first half (submitter -> broker -> worker), in ns of the shared monotonic clock
            return b.t === undefined ? { n: b.n, ok: true } : { n: b.n, ok: true, half: now() - b.t };
          },
          { prefetch: cfg.prefetch },
        );
      } else {
        const { UnixSocketClient } = await import('@socketkit/unix');
        rrClient = new UnixSocketClient({ socketDir: cfg.dir, eventName: 'rr', logLevel: 'error' });
        await rrClient.connect();
      }
    },
    cpu: async () => [
      cpuUs(),
      syscalls(),
      frames,
      process.resourceUsage().voluntaryContextSwitches,
      process.cpuUsage().system,
      process.resourceUsage().involuntaryContextSwitches,
      threadsCpu(),
    ],
    executed: async () => executed,
    async submit({ count, inflight }) {
      let next = 0;
      let done = 0;
      const first = performance.now();
      await new Promise((resolve, reject) => {
        const one = () => {
          if (next >= count) return;
          next++;
          comm.taskSend({ ...body, n: next }).then(() => {
            done++;
            if (done === count) resolve();
            else one();
          }, reject);
        };
        for (let i = 0; i < Math.min(inflight, count); i++) one();
      });
      return { ms: performance.now() - first };
    },
    async rtt({ count }) {
      const task = [];
      const rr = [];
      for (let i = 0; i < 50; i++) {
        await comm.taskSend(body);
        await rrClient.request(body, { timeout: 10_000 });
      }
      // interleaved in blocks so a load spike hits both
      const half = [];
      for (let b = 0; b < 10; b++) {
        for (let i = 0; i < count / 10; i++) {
          const t0 = performance.now();
          const r = await comm.taskSend({ ...body, t: now() });
          task.push((performance.now() - t0) * 1000);
          half.push(r.half / 1000);
        }
        for (let i = 0; i < count / 10; i++) {
          const t0 = performance.now();
          await rrClient.request(body, { timeout: 10_000 });
          rr.push((performance.now() - t0) * 1000);
        }
      }
      return { task, rr, half };
    },
    async stop() {
      await comm?.close();
      await rrClient?.disconnect();
      await rrServer?.stop();
      await broker?.stop();
    },
    async profStart() {
      const { Session } = await import('node:inspector/promises');
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
    },
    async profStop() {
      const { profile } = await session.post('Profiler.stop');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(PROF, `${process.env.PERF_NAME}.cpuprofile`), JSON.stringify(profile));
    },
    async exit() {
      setImmediate(() => process.exit(0));
    },
  };
  process.on('message', async (m) => {
    try {
      process.send({ id: m.id, ok: true, value: await handlers[m.cmd](m.arg) });
    } catch (e) {
      process.send({ id: m.id, ok: false, error: String(e?.stack ?? e) });
    }
  });
  process.send({ ready: true });
}

function spawnChild(roleName, dist, cfg) {
  const p = fork(SELF, [], {
    execArgv: (process.env.PERF_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''),
    env: {
      ...process.env,
      PERF_NAME: `${roleName}-${++spawned}`,
      PERF_ROLE: roleName,
      PERF_DIST: dist,
      PERF_CFG: JSON.stringify(cfg),
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let seq = 0;
  const waits = new Map();
  const ready = new Promise((r) => {
    p.on('message', (m) => {
      if (m.ready) return r();
      const w = waits.get(m.id);
      waits.delete(m.id);
      if (m.ok) w.resolve(m.value);
      else w.reject(new Error(`${roleName}: ${m.error}`));
    });
  });
  return {
    ready,
    call: (cmd, arg) =>
      new Promise((resolve, reject) => {
        const id = ++seq;
        waits.set(id, { resolve, reject });
        p.send({ id, cmd, arg });
      }),
    kill: () => p.kill('SIGKILL'),
    exited: new Promise((r) => p.on('exit', r)),
  };
}

const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const median = (xs) => pct(xs, 0.5);

async function runOnce(dist, o) {
  const dir = mkdtempSync(join(tmpdir(), 'skperf-'));
  const cfg = { dir, prefetch: o.prefetch, durable: o.durable };
  const broker = spawnChild('broker', dist, cfg);
  await broker.ready;
  await broker.call('start');
  const workers = Array.from({ length: o.workers }, () => spawnChild('worker', dist, cfg));
  const subs = Array.from({ length: o.submitters }, () => spawnChild('submitter', dist, cfg));
  const all = [broker, ...workers, ...subs];
  try {
    await Promise.all([...workers, ...subs].map((c) => c.ready));
    await Promise.all([...workers, ...subs].map((c) => c.call('start')));
    // warm-up
    await Promise.all(subs.map((s) => s.call('submit', { count: 1000, inflight: o.inflight })));
    if (PROF !== undefined) await Promise.all(all.map((c) => c.call('profStart')));
    const cpu0 = await Promise.all(all.map((c) => c.call('cpu')));
    const t0 = performance.now();
    const per = Math.floor(o.tasks / o.submitters);
    await Promise.all(subs.map((s) => s.call('submit', { count: per, inflight: o.inflight })));
    const ms = performance.now() - t0;
    const cpu1 = await Promise.all(all.map((c) => c.call('cpu')));
    if (PROF !== undefined) await Promise.all(all.map((c) => c.call('profStop')));
    const n = per * o.submitters;
    const d = cpu1.map((v, i) => v[0] - cpu0[i][0]);
    const sys = cpu1.map((v, i) => v[1] - cpu0[i][1]);
    const fr = cpu1.map((v, i) => v[2] - cpu0[i][2]);
    const cs = cpu1.map((v, i) => v[3] - cpu0[i][3]);
    const ks = cpu1.map((v, i) => v[4] - cpu0[i][4]);
    const ics = cpu1.map((v, i) => v[5] - cpu0[i][5]);
    const th = (k, from, to) => sum(cpu1.slice(from, to).map((v, i) => v[6][k] - cpu0[from + i][6][k])) / n;
    const sum = (a) => a.reduce((x, y) => x + y, 0);
    const r = {
      tasksPerSec: n / (ms / 1000),
      cpuAll: sum(d) / n,
      cpuBroker: d[0] / n,
      cpuWorkers: sum(d.slice(1, 1 + o.workers)) / n,
      cpuSubmitters: sum(d.slice(1 + o.workers)) / n,
      syscallsAll: sum(sys) / n,
      syscallsBroker: sys[0] / n,
      // frames received per task by the workers / the submitters; voluntary context switches (wake-ups) per task
      framesWorkers: sum(fr.slice(1, 1 + o.workers)) / n,
      framesSubmitters: sum(fr.slice(1 + o.workers)) / n,
      wakeBroker: cs[0] / n,
      wakeWorkers: sum(cs.slice(1, 1 + o.workers)) / n,
      wakeSubmitters: sum(cs.slice(1 + o.workers)) / n,
      // kernel CPU (µs/task) and involuntary context switches (preemptions) per task, per process kind
      sysBroker: ks[0] / n,
      sysWorkers: sum(ks.slice(1, 1 + o.workers)) / n,
      sysSubmitters: sum(ks.slice(1 + o.workers)) / n,
      preemptWorkers: sum(ics.slice(1, 1 + o.workers)) / n,
      // the workers' CPU µs/task on their JS threads and on their other threads (V8 compilers and GC, libuv)
      workersJs: th('js', 1, 1 + o.workers),
      workersOther: th('other', 1, 1 + o.workers),
    };
    if (o.rtt > 0) {
      const { task, rr, half } = await subs[0].call('rtt', { count: o.rtt });
      Object.assign(r, { taskP50: median(task), taskP99: pct(task, 0.99), rrP50: median(rr), halfP50: median(half) });
    }
    await Promise.allSettled(all.map((c) => c.call('stop')));
    await Promise.allSettled(all.map((c) => c.call('exit')));
    await Promise.race([Promise.all(all.map((c) => c.exited)), new Promise((r) => setTimeout(r, 10_000))]);
    return r;
  } finally {
    for (const c of all) c.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      dist: { type: 'string', default: 'dist' },
      tasks: { type: 'string', default: '20000' },
      reps: { type: 'string', default: '3' },
      workers: { type: 'string', default: '8' },
      prefetch: { type: 'string', default: '4' },
      submitters: { type: 'string', default: '2' },
      inflight: { type: 'string', default: '256' },
      rtt: { type: 'string', default: '1000' },
      durable: { type: 'boolean', default: false },
    },
  });
  const o = Object.fromEntries(
    ['tasks', 'reps', 'workers', 'prefetch', 'submitters', 'inflight', 'rtt'].map((k) => [k, Number(values[k])]),
  );
  o.durable = values.durable;
  const dists = values.dist.split(',');
  const results = new Map(dists.map((d) => [d, []]));
  const f = (x, d = 1) => (x === undefined ? '-' : x.toFixed(d));
  for (let rep = 0; rep < o.reps; rep++) {
    for (const dist of rep % 2 === 0 ? dists : [...dists].reverse()) {
      const r = await runOnce(dist, o);
      results.get(dist).push(r);
      console.log(
        `${dist.padEnd(12)} run ${rep + 1}: ${f(r.tasksPerSec, 0)} tasks/s  CPU µs/task all ${f(r.cpuAll)} broker ` +
          `${f(r.cpuBroker)} workers ${f(r.cpuWorkers)} submitters ${f(r.cpuSubmitters)}  syscalls/task all ` +
          `${f(r.syscallsAll, 2)} broker ${f(r.syscallsBroker, 2)}  frames/task workers ${f(r.framesWorkers, 2)} ` +
          `submitters ${f(r.framesSubmitters, 2)}  wake-ups/task broker ${f(r.wakeBroker, 2)} workers ` +
          `${f(r.wakeWorkers, 2)} submitters ${f(r.wakeSubmitters, 2)}  kernel µs/task broker ${f(r.sysBroker)} ` +
          `workers ${f(r.sysWorkers)} submitters ${f(r.sysSubmitters)}  preempted/task workers ` +
          `${f(r.preemptWorkers, 2)}  workers' JS thread ${f(r.workersJs)} other threads ` +
          `${f(r.workersOther)}  task p50 ${f(r.taskP50)} ` +
          `(to the worker ${f(r.halfP50)}) ` +
          `p99 ${f(r.taskP99)} µs  reqrep p50 ${f(r.rrP50)} µs  ratio ${f(r.taskP50 / r.rrP50, 2)}`,
      );
    }
  }
  console.log('medians:');
  for (const [dist, rs] of results) {
    const m = (k) => median(rs.map((r) => r[k]));
    console.log(
      `${dist.padEnd(12)} ${f(m('tasksPerSec'), 0)} tasks/s  CPU µs/task all ${f(m('cpuAll'))} broker ` +
        `${f(m('cpuBroker'))} workers ${f(m('cpuWorkers'))} submitters ${f(m('cpuSubmitters'))}  syscalls/task all ` +
        `${f(m('syscallsAll'), 2)} broker ${f(m('syscallsBroker'), 2)}  frames/task workers ` +
        `${f(m('framesWorkers'), 2)} submitters ${f(m('framesSubmitters'), 2)}  wake-ups/task broker ` +
        `${f(m('wakeBroker'), 2)} workers ${f(m('wakeWorkers'), 2)} submitters ${f(m('wakeSubmitters'), 2)}  ` +
        `task p50 ` +
        `${f(m('taskP50'))} µs  reqrep p50 ${f(m('rrP50'))} µs  ` +
        `ratio ${f(median(rs.map((r) => r.taskP50 / r.rrP50)), 2)}`,
    );
  }
  process.exit(0);
}

if (role !== undefined) await child();
else await main();

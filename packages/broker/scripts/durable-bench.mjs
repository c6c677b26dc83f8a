#!/usr/bin/env node
// A/B of the durable broker's cost, interleaved (A, B, A, B ...) in one run: the broker (its own process, durable
// store) with worker processes running no-op tasks; the submitter (this process) keeps `--inflight` tasks in flight
// for `--tasks` tasks, then runs `--rt` tasks one at a time. Prints tasks/s, the broker's CPU µs per task (from
// /proc: steady on a loaded host, unlike tasks/s) and the round trip p50/p99 per build.
//   node packages/broker/scripts/durable-bench.mjs [--dist dist,/path/to/other/dist] [--rounds 2] [--tasks 20000]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'main' },
    dist: { type: 'string', default: 'dist' },
    dir: { type: 'string' },
    memory: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '2' },
    tasks: { type: 'string', default: '20000' },
    rt: { type: 'string', default: '500' },
    workers: { type: 'string', default: '4' },
    prefetch: { type: 'string', default: '4' },
    inflight: { type: 'string', default: '256' },
  },
});
const HERE = fileURLToPath(new URL('.', import.meta.url));
const lib = (dist) => import(pathToFileURL(join(resolve(HERE, '..', dist), 'index.js')).href);
const ep = (dir) => ({ transport: 'unix', socketDir: dir, eventName: 'bench' });

if (values.role === 'broker') {
  const { startBroker } = await lib(values.dist);
  const b = await startBroker({
    ...ep(values.dir),
    ...(values.memory ? {} : { store: { path: join(values.dir, 'store') } }),
  });
  process.on('SIGTERM', () => void b.stop().then(() => process.exit(0))); // (--cpu-prof writes its profile on exit)
  console.log('ready');
} else if (values.role === 'worker') {
  const { connect } = await lib(values.dist);
  const c = await connect({ ...ep(values.dir), waitForServer: 10_000 });
  await c.addTaskSubscriber((body) => body.n, { prefetch: Number(values.prefetch) });
  console.log('ready');
} else {
  const builds = values.dist.split(',');
  const rows = new Map(builds.map((b) => [b, []]));
  const cpuOf = (pid, file = `/proc/${pid}/stat`) => {
    const f = readFileSync(file, 'utf8').split(') ')[1].split(' ');
    return ((Number(f[11]) + Number(f[12])) / 100) * 1e6; // utime + stime, µs
  };
  const mainCpu = (pid) => cpuOf(pid, `/proc/${pid}/task/${pid}/stat`); // the JS thread alone
  const child = (args) => {
    const execArgv =
      args[1] === 'broker' && process.env.BROKER_EXEC_ARGV ? process.env.BROKER_EXEC_ARGV.split(' ') : [];
    const p = spawn(process.execPath, [...execArgv, fileURLToPath(import.meta.url), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const ready = new Promise((r) => createInterface({ input: p.stdout }).once('line', r));
    return { p, ready };
  };
  const { connect } = await lib(builds[0]);
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const dist of builds) {
      const dir = mkdtempSync(join(tmpdir(), 'skdbench-'));
      const common = ['--dist', dist, '--dir', dir, ...(values.memory ? ['--memory'] : [])];
      const broker = child(['--role', 'broker', ...common]);
      await broker.ready;
      const workers = Array.from({ length: Number(values.workers) }, () =>
        child(['--role', 'worker', ...common, '--prefetch', values.prefetch]),
      );
      await Promise.all(workers.map((w) => w.ready));
      const c = await connect(ep(dir));
      for (let i = 0; i < 500; i++) await c.taskSend({ n: i, pad: 'x'.repeat(80) }); // warm-up
      const N = Number(values.tasks);
      let next = 0;
      const cpu0 = cpuOf(broker.p.pid);
      const main0 = mainCpu(broker.p.pid);
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: Number(values.inflight) }, async () => {
          while (next < N) await c.taskSend({ n: next++, pad: 'x'.repeat(80) });
        }),
      );
      const secs = (performance.now() - t0) / 1000;
      const cpu = (cpuOf(broker.p.pid) - cpu0) / N;
      const main = (mainCpu(broker.p.pid) - main0) / N;
      const lat = [];
      for (let i = 0; i < Number(values.rt); i++) {
        const t = performance.now();
        await c.taskSend({ n: i, pad: 'x'.repeat(80) });
        lat.push((performance.now() - t) * 1000);
      }
      lat.sort((a, b) => a - b);
      const row = {
        tps: N / secs,
        cpu,
        main,
        p50: lat[Math.floor(lat.length / 2)],
        p99: lat[Math.floor(lat.length * 0.99)],
      };
      rows.get(dist).push(row);
      console.log(
        `${dist} round ${round + 1}: ${row.tps.toFixed(0)} tasks/s, broker ${row.cpu.toFixed(1)} µs CPU/task ` +
          `(JS thread ${row.main.toFixed(1)}), ` +
          `round trip p50 ${(row.p50 / 1000).toFixed(2)} ms p99 ${(row.p99 / 1000).toFixed(2)} ms`,
      );
      await c.close();
      broker.p.kill('SIGTERM');
      await new Promise((r) => broker.p.once('exit', r));
      for (const w of workers) w.p.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [dist, rs] of rows) {
    const m = (k) => med(rs.map((r) => r[k]));
    console.log(
      `${dist} median: ${m('tps').toFixed(0)} tasks/s, broker ${m('cpu').toFixed(1)} µs CPU/task ` +
        `(JS thread ${m('main').toFixed(1)}), p50 ${(m('p50') / 1000).toFixed(2)} ms, ` +
        `p99 ${(m('p99') / 1000).toFixed(2)} ms`,
    );
  }
  process.exit(0);
}

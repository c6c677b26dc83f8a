#!/usr/bin/env node
// The durable store alone (no sockets), A/B interleaved: tasks arrive at `--rate` per second in bursts of `--burst`
// (like acceptances from a busy broker), each is delivered (update inflight, body) once its add is committed, done
// `--work` ms later, and forgotten 1,000 tasks later (maxKeptResults-like). Prints the process's CPU µs per task
// (all threads: lmdb's write and sync threads included; and the JS thread), commits and LMDB writes per task.
//   node packages/broker/scripts/store-bench.mjs --dist dist,dist-a [--rounds 3] [--tasks 20000] [--rate 8000]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'dist' },
    one: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    tasks: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '8000' },
    burst: { type: 'string', default: '16' },
    work: { type: 'string', default: '2' },
  },
});
const HERE = fileURLToPath(new URL('.', import.meta.url));
const cpu = (f) => {
  const x = readFileSync(f, 'utf8').split(') ')[1].split(' ');
  return ((Number(x[11]) + Number(x[12])) / 100) * 1e6;
};

if (values.one !== undefined) {
  const { LmdbStore } = await import(pathToFileURL(join(resolve(HERE, '..', values.one), 'index.js')).href);
  const { packValue } = await import('@socketkit/codec');
  const dir = mkdtempSync(join(tmpdir(), 'skstorebench-'));
  const store = await LmdbStore.open({ path: dir });
  const N = Number(values.tasks);
  const burst = Number(values.burst);
  const gap = (1000 / Number(values.rate)) * burst;
  const done = [];
  let finished = 0;
  const c0 = cpu('/proc/self/stat');
  const m0 = cpu(`/proc/self/task/${process.pid}/stat`);
  const t0 = performance.now();
  await new Promise((resolveAll) => {
    let seq = 0;
    const tick = () => {
      for (let i = 0; i < burst && seq < N; i++) {
        const body = { n: seq, pad: 'x'.repeat(80) };
        const packed = packValue(body);
        const t = { id: `t-${seq}`, seq: ++seq, bytes: packed.length, state: 'pending', attempt: 0, failures: 0 };
        Object.assign(t, { noReply: false, createdAt: Date.now() });
        void store.add(t, packed, body).then(() => {
          t.state = 'inflight';
          t.attempt = 1;
          store.update(t);
          store.body(t);
          setTimeout(() => {
            t.state = 'done';
            t.doneAt = Date.now();
            t.outcome = { ok: true, result: t.seq };
            store.update(t);
            done.push(t);
            if (done.length > 1000) store.delete(done.shift());
            if (++finished === N) resolveAll();
          }, Number(values.work));
        });
      }
      if (seq < N) setTimeout(tick, gap);
    };
    tick();
  });
  const s = store.stats;
  const out = {
    tps: N / ((performance.now() - t0) / 1000),
    cpu: (cpu('/proc/self/stat') - c0) / N,
    main: (cpu(`/proc/self/task/${process.pid}/stat`) - m0) / N,
    commits: s.commits / N,
    writes: (s.puts + s.removes) / N,
  };
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(JSON.stringify(out));
} else {
  const builds = values.dist.split(',');
  const rows = new Map(builds.map((b) => [b, []]));
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const b of builds) {
      const args = ['--one', b, '--tasks', values.tasks, '--rate', values.rate, '--burst', values.burst];
      const p = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args, '--work', values.work]);
      const row = JSON.parse(String(p.stdout).trim().split('\n').at(-1));
      rows.get(b).push(row);
      console.log(
        `${b} round ${r + 1}: ${row.tps.toFixed(0)} tasks/s, CPU ${row.cpu.toFixed(1)} µs/task ` +
          `(JS thread ${row.main.toFixed(1)}), ${row.commits.toFixed(3)} commits and ${row.writes.toFixed(2)} ` +
          'LMDB writes per task',
      );
    }
  }
  const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [b, rs] of rows) {
    const m = (k) => med(rs.map((x) => x[k]));
    console.log(
      `${b} median: CPU ${m('cpu').toFixed(1)} µs/task (JS ${m('main').toFixed(1)}), ` +
        `${m('commits').toFixed(3)} commits/task`,
    );
  }
}

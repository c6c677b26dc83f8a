#!/usr/bin/env node
// CPU per task of the broker's state machine alone (BrokerCore, memory mode, no sockets): a submitter and a worker
// connection driven in-process with the messages a client sends (task, then result without ref), a no-op host.
// Steadier than the multi-process perf.mjs on a loaded host; compares builds interleaved:
//   node packages/broker/scripts/core-cost.mjs [--dist dist,dist-base] [--tasks 200000] [--reps 5]
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const PKG = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'dist' },
    tasks: { type: 'string', default: '200000' },
    reps: { type: 'string', default: '5' },
  },
});
const tasks = Number(values.tasks);
const mods = new Map();
for (const d of values.dist.split(',')) mods.set(d, await import(join(PKG, d, 'index.js')));
const body = { n: 0, pad: 'x'.repeat(80) };

function once(mod) {
  let delivered = [];
  const core = new mod.BrokerCore(
    {
      send: (_connId, m) => {
        if (m.kind === 'deliver') delivered.push(m);
      },
      batchLimit: () => 1 << 20,
    },
    new mod.MemoryStore(),
  );
  core.connected('s');
  core.connected('w');
  core.handle('w', { kind: 'subscribe', ref: 1, type: 'task', identifier: 'w', prefetch: 64 });
  const cpu0 = process.cpuUsage();
  let ref = 0;
  for (let i = 0; i < tasks; i += 32) {
    for (let k = 0; k < 32; k++) {
      // fresh strings, as decoded from a frame
      core.handle('s', {
        kind: 'task',
        ref: ++ref,
        taskId: `${i + k}-${'0'.repeat(30)}`.slice(0, 36),
        body,
        noReply: false,
      });
    }
    const ds = delivered;
    delivered = [];
    for (const d of ds)
      core.handle('w', { kind: 'result', taskId: `${d.taskId}`, attempt: d.attempt, ok: true, result: { ok: true } });
  }
  const c = process.cpuUsage(cpu0);
  core.close();
  return (c.user + c.system) / tasks;
}

const res = new Map([...mods.keys()].map((d) => [d, []]));
for (let r = 0; r < Number(values.reps); r++) {
  const order = r % 2 === 0 ? [...mods] : [...mods].reverse();
  for (const [d, mod] of order) res.get(d).push(once(mod));
}
for (const [d, xs] of res) {
  const s = [...xs].sort((a, b) => a - b);
  console.log(
    `${d.padEnd(12)} CPU µs/task median ${s[Math.floor(s.length / 2)].toFixed(2)}  ` +
      `runs ${xs.map((x) => x.toFixed(2)).join(' ')}`,
  );
}

#!/usr/bin/env node
// Issue 25 "must hold" 7, full size: a durable broker (its own process) holding 100,000 pending tasks of ~1 KiB
// bodies keeps its memory bounded; after a SIGKILL and a restart on the same path every task still completes.
// Prints the broker's heap (after a GC) and anonymous RSS, filled and after the restart, in bytes per task.
// The test suite runs a smaller sample (test/durable-memory.test.ts). Build first.
//   node packages/broker/scripts/durable-memory.mjs [--tasks 100000] [--body 1024] [--no-drain]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '../dist/index.js';
import { brokerFixture, fill, memory } from './durable-memory-lib.mjs';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '100000' },
    body: { type: 'string', default: '1024' },
    'no-drain': { type: 'boolean', default: false },
  },
});
const N = Number(values.tasks);
const BODY = Number(values.body);
const dir = mkdtempSync(join(tmpdir(), 'skbroker-mem-'));
const storeDir = join(dir, 'store');
const options = { transport: 'unix', socketDir: dir, eventName: 'mem', store: { path: storeDir } };
const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const show = (what, m, base) =>
  console.log(
    `${what}: pending ${m.stats.pending}, heap ${mib(m.heapUsed)} (+${((m.heapUsed - base.heapUsed) / N).toFixed(0)} ` +
      `B/task), external ${mib(m.external)}, RSS ${mib(m.rss)}, anonymous RSS ${mib(m.rssAnon)} ` +
      `(+${((m.rssAnon - base.rssAnon) / N).toFixed(0)} B/task)`,
  );

let broker = await brokerFixture(options);
const base = await memory(broker);
show('empty', { ...base, stats: { pending: 0 } }, base);
const c = await connect({ transport: 'unix', socketDir: dir, eventName: 'mem', reconnect: { maxRetries: 50 } });
const started = Date.now();
await fill(c, N, BODY);
console.log(`${N} tasks of ${BODY} B accepted in ${((Date.now() - started) / 1000).toFixed(1)} s`);
show('filled', await memory(broker), base);
broker.kill('SIGKILL');
await broker.exited;
broker = await brokerFixture(options);
const base2 = await memory(broker);
show('restarted', base2, base);
if (!values['no-drain']) {
  const seen = new Set();
  await c.addTaskSubscriber((body) => void seen.add(body.n), { prefetch: 256 });
  const t0 = Date.now();
  while (seen.size < N) await new Promise((r) => setTimeout(r, 200));
  console.log(`drained ${seen.size} distinct tasks after the restart in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
await c.close();
broker.kill('SIGKILL');
await broker.exited;
rmSync(dir, { recursive: true, force: true });
process.exit(0);

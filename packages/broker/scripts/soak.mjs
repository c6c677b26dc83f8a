#!/usr/bin/env node
// The full-size runs of @socketkit/broker's "must hold" properties (the test suite runs bounded samples):
//   1. 1,000 tasks, 8 worker processes, 3 submitter processes, prefetch 4: 1,000 outcomes, 0 duplicates, 0 losses,
//      never more than prefetch in flight per subscriber; then the same with 2 random workers SIGKILLed and restarted.
//   2. durable mode: SIGKILL the broker with 300 tasks pending and 32 in flight, restart it on the same path: all 332
//      complete, workers and submitters reconnect by themselves.
//   3. 100,000 pending tasks in durable mode: the broker's memory stays bounded (RSS printed).
//   4. 1,000 connect/subscribe/disconnect cycles: no file descriptor leaked.
//   5. latencies: UnroutableError (issue: under 50 ms), RecipientLost and redelivery after a SIGKILL (issue: within
//      the heartbeat timeout + 500 ms; here the heartbeat timeout is 1000 ms).
// Build first (npx -y pnpm@10.34.9 --filter @socketkit/broker... build).
//   node packages/broker/scripts/soak.mjs [--transport unix|tcp|nats] [--nats URL] [--only 1,2,3,4]
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { connect, startBroker } from '../dist/index.js';

const { values } = parseArgs({ options: { transport: { type: 'string', default: 'unix' }, nats: { type: 'string' }, only: { type: 'string' } } });
const transport = values.transport;
const only = new Set((values.only ?? '1,2,3,4,5').split(','));
const FIXTURE = fileURLToPath(new URL('../test/fixture.mjs', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const children = new Set();
let failed = false;
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed = true;
};

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen({ host: '127.0.0.1', port: 0 }, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

let natsProc;
async function natsUrl() {
  if (values.nats) return values.nats;
  if (natsProc) return natsProc.url;
  const port = await freePort();
  const proc = spawn('/usr/sbin/nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  await sleep(500);
  natsProc = { proc, url: `nats://127.0.0.1:${port}` };
  return natsProc.url;
}

let seq = 0;
async function endpoint() {
  const dir = mkdtempSync(join(tmpdir(), 'skbroker-soak-'));
  const base = { transport, eventName: `soak${process.pid}x${++seq}`, heartbeatIntervalMs: 250, heartbeatTimeoutMs: 1000 };
  const server = { ...base };
  const client = { ...base };
  if (transport === 'unix') server.socketDir = client.socketDir = dir;
  else if (transport === 'tcp') {
    server.port = client.port = await freePort();
    server.host = client.host = '127.0.0.1';
  } else server.servers = client.servers = await natsUrl();
  return { dir, server, client, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function fixture(config) {
  const proc = spawn(process.execPath, [FIXTURE, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SOCKET_LOG_LEVEL: 'silent' },
  });
  const child = { proc, events: [], waiters: new Set() };
  createInterface({ input: proc.stdout }).on('line', (line) => {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    child.events.push(e);
    for (const w of [...child.waiters]) {
      if (!w.pred(e)) continue;
      child.waiters.delete(w);
      w.resolve(e);
    }
  });
  child.exited = new Promise((r) => proc.once('exit', r));
  child.waitFor = (pred, timeoutMs = 120_000) => {
    const found = child.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pid ${proc.pid}: timed out; last ${JSON.stringify(child.events.slice(-2))}`)), timeoutMs);
      const done = (e) => {
        clearTimeout(timer);
        resolve(e);
      };
      child.waiters.add({ pred, resolve: done });
    });
  };
  child.kill = (sig = 'SIGKILL') => proc.exitCode === null && proc.signalCode === null && proc.kill(sig);
  children.add(child);
  child.exited.then(() => children.delete(child));
  return child;
}

async function killAll() {
  const all = [...children];
  for (const c of all) c.kill();
  await Promise.all(all.map((c) => c.exited));
}

async function manyTasks(kills) {
  const TASKS = 1000;
  const SUBMITTERS = 3;
  const WORKERS = 8;
  const PREFETCH = 4;
  const ep = await endpoint();
  const broker = await startBroker(ep.server);
  const workers = [];
  const spawnWorker = () => {
    const w = fixture({ role: 'worker', conn: ep.client, prefetch: PREFETCH, sleepMs: 3 });
    workers.push(w);
    return w;
  };
  await Promise.all(Array.from({ length: WORKERS }, spawnWorker).map((w) => w.waitFor((e) => e.ev === 'ready')));
  let maxInflight = 0;
  const sampler = setInterval(() => {
    for (const s of broker.stats().subscribers) maxInflight = Math.max(maxInflight, s.inflight);
  }, 5);
  const started = Date.now();
  const per = Math.ceil(TASKS / SUBMITTERS);
  const submitters = Array.from({ length: SUBMITTERS }, (_, i) =>
    fixture({ role: 'submitter', conn: ep.client, count: i === SUBMITTERS - 1 ? TASKS - per * (SUBMITTERS - 1) : per, prefix: `s${i}` }),
  );
  const victims = [];
  for (let k = 0; k < kills; k++) {
    await submitters[0].waitFor(() => submitters[0].events.filter((x) => x.ev === 'outcome').length >= 100 * (k + 1));
    const live = workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null);
    const victim = live[Math.floor(Math.random() * live.length)];
    victims.push(victim);
    victim.kill();
    spawnWorker();
  }
  await Promise.all(submitters.map((s) => s.waitFor((e) => e.ev === 'done')));
  const seconds = (Date.now() - started) / 1000;
  clearInterval(sampler);
  const outcomes = submitters.flatMap((s) => s.events.filter((e) => e.ev === 'outcome'));
  const failures = submitters.flatMap((s) => s.events.filter((e) => e.ev === 'failure'));
  const starts = workers.flatMap((w) => w.events.filter((e) => e.ev === 'start'));
  const label = `${TASKS} tasks, ${WORKERS} workers, ${SUBMITTERS} submitters, prefetch ${PREFETCH}${kills ? `, ${kills} workers SIGKILLed` : ''}`;
  check(outcomes.length === TASKS && failures.length === 0, `${label}: ${outcomes.length} outcomes, ${failures.length} failures`);
  check(new Set(outcomes.map((e) => e.n)).size === TASKS, `${label}: 0 duplicate outcomes, 0 losses`);
  check(
    maxInflight <= PREFETCH && starts.every((s) => s.running <= PREFETCH),
    `${label}: at most ${PREFETCH} in flight per subscriber (max seen ${maxInflight})`,
  );
  const dup = starts.length - TASKS;
  const redelivered = starts.filter((s) => s.redelivered).length;
  if (kills === 0) check(dup === 0 && redelivered === 0, `${label}: ${starts.length} executions`);
  else {
    // Every duplicate execution is a redelivery of a task in flight to a killed worker (at most prefetch each).
    const unfinished = victims.reduce((n, v) => n + v.events.filter((e) => e.ev === 'start').length - v.events.filter((e) => e.ev === 'end').length, 0);
    check(
      dup <= redelivered && redelivered <= kills * PREFETCH,
      `${label}: ${dup} duplicate executions <= ${redelivered} redelivered <= ${kills} kills x prefetch ${PREFETCH} ` +
        `(${unfinished} started, unfinished in the killed workers)`,
    );
  }
  const shares = workers.map((w) => w.events.filter((e) => e.ev === 'start').length);
  console.log(`     ${(TASKS / seconds).toFixed(0)} tasks/s end to end (3 ms tasks); per-worker executions ${shares.join(' ')}`);
  await killAll();
  await broker.stop();
  ep.cleanup();
}

async function durableRestart() {
  const WORKERS = 8;
  const PREFETCH = 4;
  const TASKS = 332;
  const ep = await endpoint();
  const storeDir = mkdtempSync(join(tmpdir(), 'skbroker-store-'));
  const brokerChild = async () => {
    const b = fixture({ role: 'broker', options: { ...ep.server, store: { path: storeDir } }, statsEveryMs: 50 });
    await b.waitFor((e) => e.ev === 'ready');
    return b;
  };
  let broker = await brokerChild();
  const workers = Array.from({ length: WORKERS }, () => fixture({ role: 'worker', conn: ep.client, prefetch: PREFETCH, sleepMs: 400 }));
  await Promise.all(workers.map((w) => w.waitFor((e) => e.ev === 'ready')));
  const submitter = fixture({ role: 'submitter', conn: ep.client, count: TASKS, prefix: 'd' });
  const at = await broker.waitFor((e) => e.ev === 'stats' && e.stats.inflight === WORKERS * PREFETCH && e.stats.pending === TASKS - WORKERS * PREFETCH);
  broker.kill();
  await broker.exited;
  console.log(`     broker SIGKILLed with ${at.stats.pending} pending and ${at.stats.inflight} in flight`);
  broker = await brokerChild();
  const done = await submitter.waitFor((e) => e.ev === 'done', 180_000);
  const outcomes = submitter.events.filter((e) => e.ev === 'outcome');
  check(
    done.ok === TASKS && done.failed === 0 && new Set(outcomes.map((e) => e.n)).size === TASKS,
    `durable: all ${TASKS} complete after the restart (${done.ok} ok, ${done.failed} failed)`,
  );
  check(
    workers.every((w) => w.proc.exitCode === null),
    'durable: every worker reconnected by itself',
  );
  await killAll();
  ep.cleanup();
  rmSync(storeDir, { recursive: true, force: true });
}

async function manyPending() {
  const N = 100_000;
  const ep = await endpoint();
  const storeDir = mkdtempSync(join(tmpdir(), 'skbroker-store-'));
  const broker = fixture({ role: 'broker', options: { ...ep.server, store: { path: storeDir } }, statsEveryMs: 1000 });
  await broker.waitFor((e) => e.ev === 'ready');
  const c = await connect(ep.client);
  const started = Date.now();
  for (let i = 0; i < N; i += 1000)
    await Promise.all(Array.from({ length: 1000 }, (_, j) => c.taskSend({ n: i + j, pad: 'x'.repeat(100) }, { noReply: true })));
  const seconds = (Date.now() - started) / 1000;
  const rss = Number(readFileSync(`/proc/${broker.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;
  check(rss < 512, `durable: ${N} pending tasks accepted (${(N / seconds).toFixed(0)} tasks/s durable submit), broker RSS ${rss.toFixed(0)} MiB`);
  await c.close();
  await killAll();
  ep.cleanup();
  rmSync(storeDir, { recursive: true, force: true });
}

async function fdCycles() {
  const ep = await endpoint();
  const broker = await startBroker(ep.server);
  const fds = () => readdirSync('/proc/self/fd').length;
  const cycle = async () => {
    const c = await connect(ep.client);
    await c.addTaskSubscriber(() => 1, { prefetch: 2 });
    await c.addRpcSubscriber(() => 1);
    await c.addBroadcastSubscriber(() => undefined);
    await c.close();
  };
  for (let i = 0; i < 10; i++) await cycle();
  await sleep(200);
  const before = fds();
  for (let i = 0; i < 1000; i++) await cycle();
  await sleep(500);
  check(fds() <= before + 2, `1000 connect/subscribe/disconnect cycles: ${before} descriptors before, ${fds()} after`);
  await broker.stop();
  ep.cleanup();
}

async function latencies() {
  const ep = await endpoint();
  const broker = await startBroker(ep.server);
  const c = await connect(ep.client);
  let worst = 0;
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await c.rpcSend('nobody', i).catch(() => undefined);
    worst = Math.max(worst, performance.now() - t0);
  }
  check(worst < 50, `UnroutableError: worst of 20 calls ${worst.toFixed(1)} ms`);
  const a = fixture({ role: 'worker', conn: ep.client, hang: true, rpc: 'svc' });
  await a.waitFor((e) => e.ev === 'ready');
  const outcome = c.taskSend({ n: 'k' });
  const call = c.rpcSend('svc', { hang: true }).catch((e) => e);
  await a.waitFor((e) => e.ev === 'start');
  await a.waitFor((e) => e.ev === 'call');
  const b = fixture({ role: 'worker', conn: ep.client });
  await b.waitFor((e) => e.ev === 'ready');
  const killedAt = performance.now();
  a.kill();
  const lost = await call;
  const lostMs = performance.now() - killedAt;
  await b.waitFor((e) => e.ev === 'start' && e.attempt === 2);
  const redeliveredMs = performance.now() - killedAt;
  await outcome;
  const limit = ep.server.heartbeatTimeoutMs + 500;
  check(lost?.code === 'RECIPIENT_LOST' && lostMs < limit, `RecipientLost ${lostMs.toFixed(0)} ms after SIGKILL (limit ${limit} ms)`);
  check(redeliveredMs < limit, `redelivered with attempt 2 ${redeliveredMs.toFixed(0)} ms after SIGKILL (limit ${limit} ms)`);
  await c.close();
  await killAll();
  await broker.stop();
  ep.cleanup();
}

try {
  console.log(`soak over ${transport}`);
  if (only.has('1')) {
    await manyTasks(0);
    await manyTasks(2);
  }
  if (only.has('2')) await durableRestart();
  if (only.has('3')) await manyPending();
  if (only.has('4')) await fdCycles();
  if (only.has('5')) await latencies();
} catch (e) {
  console.error(e);
  failed = true;
} finally {
  await killAll();
  natsProc?.proc.kill();
}
process.exit(failed ? 1 : 0);

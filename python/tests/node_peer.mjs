// Node peers for the Python tests, importing the built @socketkit/broker (run its build first).
// One JSON argument; reports one JSON object a line on stdout.
//   host:      reads commands on stdin, one JSON a line: {cmd:"start", id, options} -> {ev:"started", id, port}
//              (a fresh broker per test, all in this one process), {cmd:"stop", id} -> {ev:"stopped", id}
//   worker:    task subscriber (returns {n, by:"node", pid, attempt}; body.fail throws; body.sleepMs waits)
//   submitter: sends `count` tasks {n: prefix-i} and reports each outcome, then {ev:"done"}
//   rpc:       RPC subscriber `identifier` answering {echo: body, by: "node"}; body.fail throws
//   call:      calls `recipient` with each of `bodies`, reports {ev:"answer"|"failure"}
//   listen:    broadcast subscriber through BroadcastFilter(subject, sender) reporting {ev:"broadcast"}
//   broadcast: sends each of `messages` ({body, subject, sender}) then {ev:"done"}
import { createInterface } from 'node:readline';
import { BroadcastFilter, connect, startBroker } from '../../packages/broker/dist/index.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (o) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...o })}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
process.on('unhandledRejection', (e) => out({ ev: 'unhandled', error: String(e) }));
const reconnect = { maxRetries: Number.POSITIVE_INFINITY, maxDelay: 500 };

if (cfg.role === 'host') {
  // Work-around: in a process that has stopped a broker, a later first `import('lmdb')` (a durable broker's store)
  // fails with ERR_MODULE_NOT_FOUND for lmdb's own dependency (reported in the notes; reproduced outside these
  // tests), so the host loads lmdb once up front.
  await import('../../packages/broker/node_modules/lmdb/node-index.js');
  const brokers = new Map();
  const rl = createInterface({ input: process.stdin });
  rl.on('line', async (line) => {
    const c = JSON.parse(line);
    try {
      if (c.cmd === 'start') {
        const b = await startBroker({ logLevel: 'silent', ...c.options });
        brokers.set(c.id, b);
        out({ ev: 'started', id: c.id, port: b.port, address: b.address });
      } else if (c.cmd === 'stop') {
        await brokers.get(c.id)?.stop();
        brokers.delete(c.id);
        out({ ev: 'stopped', id: c.id });
      } else if (c.cmd === 'serverTotals') {
        out({ ev: 'totals', id: c.id, totals: brokers.get(c.id)?.server.stats().totals });
      } else if (c.cmd === 'stats') {
        out({ ev: 'stats', id: c.id, stats: brokers.get(c.id)?.stats() });
      }
    } catch (e) {
      out({ ev: 'error', id: c.id, code: e.code, message: e.message });
    }
  });
  rl.on('close', async () => {
    for (const b of brokers.values()) await b.stop();
    process.exit(0);
  });
  out({ ev: 'ready' });
} else {
  const comm = await connect({ waitForServer: 10_000, reconnect, logLevel: 'silent', ...cfg.conn });
  comm.on('error', (e) => out({ ev: 'error', code: e.code, message: e.message }));
  if (cfg.role === 'worker') {
    await comm.addTaskSubscriber(
      async (body, ctx) => {
        out({ ev: 'start', n: body?.n, taskId: ctx.taskId, attempt: ctx.attempt });
        if (body?.sleepMs) await sleep(body.sleepMs);
        if (cfg.sleepMs) await sleep(cfg.sleepMs);
        if (body?.fail) throw Object.assign(new Error(`task ${body.n} failed`), { code: 'TASK_FAILED' });
        return { n: body?.n, by: 'node', pid: process.pid, attempt: ctx.attempt };
      },
      { prefetch: cfg.prefetch ?? 1 },
    );
    out({ ev: 'ready' });
  } else if (cfg.role === 'submitter') {
    out({ ev: 'ready' });
    if (cfg.startAfterMs) await sleep(cfg.startAfterMs);
    let ok = 0;
    let failed = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: cfg.count }, async (_, i) => {
        const n = `${cfg.prefix}-${i}`;
        try {
          const body = { n, ...(cfg.body ?? {}) };
          if (cfg.bigBodyEvery && i % cfg.bigBodyEvery === 0) body.big = 2n ** 70n; // msgpack cannot carry it
          const r = await comm.taskSend(body);
          ok++;
          out({ ev: 'outcome', n, result: r });
        } catch (e) {
          failed++;
          out({ ev: 'failure', n, code: e.code, remoteCode: e.remoteCode, message: e.message });
        }
      }),
    );
    out({ ev: 'done', ok, failed, elapsedMs: performance.now() - t0 });
  } else if (cfg.role === 'rpc') {
    await comm.addRpcSubscriber((body) => {
      if (body?.fail) throw Object.assign(new Error('node handler failed'), { code: 'NODE_FAILED' });
      return { echo: body, by: 'node' };
    }, cfg.identifier);
    out({ ev: 'ready' });
  } else if (cfg.role === 'call') {
    for (const body of cfg.bodies) {
      try {
        out({ ev: 'answer', result: await comm.rpcSend(cfg.recipient, body, { timeoutMs: 5000 }) });
      } catch (e) {
        out({ ev: 'failure', code: e.code, remoteCode: e.remoteCode, name: e.name });
      }
    }
    out({ ev: 'done' });
  } else if (cfg.role === 'listen') {
    const filter = { subject: cfg.subject, sender: cfg.sender };
    await comm.addBroadcastSubscriber(
      new BroadcastFilter((body, info) => out({ ev: 'broadcast', body, ...info }), filter),
    );
    out({ ev: 'ready' });
  } else if (cfg.role === 'broadcast') {
    for (const m of cfg.messages) comm.broadcastSend(m.body, { subject: m.subject, sender: m.sender });
    await sleep(100);
    out({ ev: 'done' });
  }
  const stop = () => void comm.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  if (cfg.exitWhenDone && ['submitter', 'call', 'broadcast'].includes(cfg.role)) stop();
}

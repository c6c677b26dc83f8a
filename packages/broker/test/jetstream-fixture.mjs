// A JetStream-backend process for the tests: a worker, a submitter or an RPC holder, configured by one JSON
// argument; it reports on stdout, one JSON object a line. Imports the built package (run the build first).
//   node test/jetstream-fixture.mjs '{"role":"worker","conn":{"transport":"jetstream","servers":"nats://..."}}'
import { connect } from '../dist/index.js';
import { rpcHandler, submitter, taskHandler } from './fixture-roles.mjs';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (o) => process.stdout.write(`${JSON.stringify({ pid: process.pid, t: Date.now(), ...o })}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
process.on('unhandledRejection', (e) => out({ ev: 'unhandled', error: String(e) }));

const comm = await connect({ transport: 'jetstream', ...cfg.conn });
comm.on('staleDelivery', (taskId, attempt) => out({ ev: 'stale', taskId, attempt }));
comm.on('connected', () => out({ ev: 'connected' }));
comm.on('disconnected', (reason) => out({ ev: 'disconnected', reason }));
comm.on('error', (e) => out({ ev: 'error', code: e.code, message: e.message }));
process.on('SIGTERM', () => void comm.close().then(() => process.exit(0)));

/** Things a worker or RPC holder does once ready, to show traffic in the other direction. */
async function afterReady() {
  if (cfg.callRpc) {
    for (let i = 0; i < 200; i++) {
      try {
        out({ ev: 'rpcResult', result: await comm.rpcSend(cfg.callRpc, { from: process.pid }, { timeoutMs: 5000 }) });
        break;
      } catch (e) {
        out({ ev: 'rpcError', code: e.code });
        await sleep(100);
      }
    }
  }
  if (cfg.sendBroadcast)
    setInterval(() => comm.broadcastSend({ from: process.pid }, { subject: cfg.sendBroadcast }), 100);
}

if (cfg.role === 'worker') {
  await comm.addTaskSubscriber(taskHandler(cfg, out), { prefetch: cfg.prefetch ?? 1 });
  if (cfg.rpc) {
    await comm.addRpcSubscriber(rpcHandler(out), cfg.rpc);
  }
  if (cfg.broadcasts) await comm.addBroadcastSubscriber((body, info) => out({ ev: 'broadcast', body, ...info }));
  out({ ev: 'ready' });
  void afterReady();
} else if (cfg.role === 'rpc') {
  await comm.addRpcSubscriber(rpcHandler(out), cfg.rpc);
  if (cfg.broadcasts) await comm.addBroadcastSubscriber((body, info) => out({ ev: 'broadcast', body, ...info }));
  out({ ev: 'ready' });
} else if (cfg.role === 'submitter') {
  out({ ev: 'ready' });
  const { counts, send: one1 } = submitter(comm, cfg, out);
  let next = 0;
  const one = async () => {
    while (next < cfg.count) await one1(`${cfg.prefix}-${next++}`);
  };
  if (cfg.ratePerSec) {
    // Paced: one task every 1000/ratePerSec ms, so a run spans the node kills of a chaos test.
    const all = [];
    for (let i = 0; i < cfg.count; i++) {
      all.push(one1(`${cfg.prefix}-${i}`));
      await sleep(1000 / cfg.ratePerSec);
    }
    await Promise.all(all);
  } else {
    // At most `concurrency` tasks outstanding (default: all at once).
    await Promise.all(Array.from({ length: cfg.concurrency ?? cfg.count }, one));
  }
  out({ ev: 'done', ok: counts.ok, failed: counts.failed, duplicateOutcomes: comm.duplicateOutcomes });
  if (cfg.linger) await sleep(cfg.linger);
  out({ ev: 'final', duplicateOutcomes: comm.duplicateOutcomes });
  await comm.close();
  process.exit(0);
}

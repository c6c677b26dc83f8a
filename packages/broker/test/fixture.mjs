// A broker process for the tests: a worker, a submitter, an RPC server or a
// broker, configured by one JSON argument; it reports on stdout, one JSON
// object a line. Imports the built package (run the build first).
//   node test/fixture.mjs '{"role":"worker","conn":{"socketDir":"/tmp/x"},"prefetch":4}'
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connect, startBroker } from '../dist/index.js';
import { rpcHandler, submitter, taskHandler } from './fixture-roles.mjs';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (o) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...o })}\n`);
process.on('unhandledRejection', (e) => out({ ev: 'unhandled', error: String(e) }));

if (cfg.role === 'broker') {
  let broker;
  // SIGUSR2 (handled before `ready`): a garbage collection, then the broker's memory (bytes) and stats as one
  // `memory` event.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  process.on('SIGUSR2', () => {
    gc();
    const m = process.memoryUsage();
    const kib = (k) => Number(readFileSync('/proc/self/status', 'utf8').match(new RegExp(`${k}:\\s+(\\d+)`))?.[1] ?? 0);
    out({
      ev: 'memory',
      heapUsed: m.heapUsed,
      external: m.external,
      rss: m.rss,
      rssAnon: kib('RssAnon') * 1024,
      stats: broker?.stats(),
    });
  });
  broker = await startBroker(cfg.options);
  out({ ev: 'ready', port: broker.port });
  const stop = () => void broker.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  setInterval(() => out({ ev: 'stats', stats: broker.stats() }), cfg.statsEveryMs ?? 60_000).unref();
} else if (cfg.role === 'worker') {
  const comm = await connect({
    waitForServer: 10_000,
    reconnect: { maxRetries: Number.POSITIVE_INFINITY, maxDelay: 500 },
    ...cfg.conn,
  });
  comm.on('staleDelivery', (taskId, attempt) => out({ ev: 'stale', taskId, attempt }));
  comm.on('connected', () => out({ ev: 'connected' }));
  await comm.addTaskSubscriber(taskHandler(cfg, out), {
    prefetch: cfg.prefetch ?? 1,
    identifier: cfg.identifier,
  });
  if (cfg.rpc) {
    await comm.addRpcSubscriber(rpcHandler(out), cfg.rpc);
  }
  if (cfg.broadcasts) {
    await comm.addBroadcastSubscriber((body, info) => out({ ev: 'broadcast', body, ...info }));
  }
  out({ ev: 'ready' });
  process.on('SIGTERM', () => void comm.close().then(() => process.exit(0)));
} else if (cfg.role === 'submitter') {
  const comm = await connect({
    waitForServer: 10_000,
    reconnect: { maxRetries: Number.POSITIVE_INFINITY, maxDelay: 500 },
    ...cfg.conn,
  });
  out({ ev: 'ready' });
  const { counts, send } = submitter(comm, cfg, out);
  await Promise.all(Array.from({ length: cfg.count }, (_, i) => send(`${cfg.prefix}-${i}`)));
  out({ ev: 'done', ok: counts.ok, failed: counts.failed });
  await comm.close();
  process.exit(0);
}

// A broker worker process for broker.test.ts, configured by one JSON argument:
//   node test/broker-worker.mjs '{"conn":{"socketDir":"/tmp/x"},"identifier":"w"}'
// A task whose body has `poison` kills the process (SIGKILL): its lease is lost. Prints "ready" once subscribed,
// then one JSON line per finished task.
import { connect } from '@socketkit/broker';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const comm = await connect({ waitForServer: 10_000, ...cfg.conn });
await comm.addTaskSubscriber(
  async (body, ctx) => {
    if (body?.poison && !cfg.cure) process.kill(process.pid, 'SIGKILL');
    process.stdout.write(`${JSON.stringify({ done: ctx.taskId, attempt: ctx.attempt })}\n`);
    return { ok: true };
  },
  { prefetch: 2, ...(cfg.identifier === undefined ? {} : { identifier: cfg.identifier }) },
);
process.stdout.write('ready\n');
process.on('SIGTERM', () => void comm.close().then(() => process.exit(0)));

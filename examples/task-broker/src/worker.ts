/**
 * A worker: a task subscriber with two tasks in flight at most, until the
 * broker goes away.
 *
 *   node dist/worker.js --name worker-1 [--transport unix|tcp] [--socket-dir DIR] [--port N]
 */
import { parseArgs } from 'node:util';
import { connect } from '@socketkit/broker';
import { ENDPOINT_OPTIONS, endpoint, isMain, type Task, work } from './shared.js';

/** Works until the broker stops; resolves with the number of tasks done. */
export async function runWorker(name: string, values: Parameters<typeof endpoint>[0]): Promise<number> {
  const comm = await connect({ ...endpoint(values), autoReconnect: false });
  let done = 0;
  await comm.addTaskSubscriber(
    (body) => {
      const task = body as Task;
      done++;
      return { digest: work(task.text, task.rounds), worker: name };
    },
    { identifier: name, prefetch: 2 },
  );
  await new Promise<void>((resolve) => {
    comm.once('disconnected', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await comm.close();
  console.log(`[${name}] broker gone; did ${done} task(s)`);
  return done;
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: { ...ENDPOINT_OPTIONS, name: { type: 'string', default: `worker-${process.pid}` } },
  });
  await runWorker(values.name, values);
}

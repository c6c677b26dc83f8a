/**
 * A worker: connects to the broker, says it is ready, and answers every task
 * it is given with the result, until the broker goes away.
 *
 *   node dist/worker.js --name worker-1 [--transport unix|tcp] [--socket-dir DIR] [--port N]
 */
import { parseArgs } from 'node:util';
import { createClient } from 'socketkit';
import { ENDPOINT_OPTIONS, EVENT, endpoint, isMain, work } from './shared.js';

/** Works until the broker stops; resolves with the number of tasks done. */
export async function runWorker(name: string, values: Parameters<typeof endpoint>[0]): Promise<number> {
  const { type, options } = endpoint(values);
  const client = await createClient(type, EVENT, { ...options, autoReconnect: false });
  await client.connect({ waitForWelcome: true });
  process.once('SIGTERM', () => void client.disconnect());
  await client.send({ kind: 'ready', name });
  let done = 0;
  for await (const m of client) {
    if (m.data.kind !== 'task') continue;
    const digest = work(String(m.data.text), Number(m.data.rounds));
    await client.send({ kind: 'result', taskId: m.data.taskId, digest });
    done++;
  }
  await client.disconnect();
  console.log(`[${name}] broker gone; did ${done} task(s)`);
  return done;
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: { ...ENDPOINT_OPTIONS, name: { type: 'string', default: `worker-${process.pid}` } },
  });
  await runWorker(values.name, values);
}

/**
 * The broker: one socketkit server. Submitters send tasks as requests;
 * workers announce themselves with `{kind: "ready"}` and get tasks unicast,
 * at most two in flight each, least busy first. A worker's result is sent
 * back as the reply to the submitter's request. Tasks of a worker that goes
 * away are handed to another.
 *
 *   node dist/broker.js [--transport unix|tcp] [--socket-dir DIR] [--port N]
 */
import { parseArgs } from 'node:util';
import { createServer, type SocketMessage } from 'socketkit';
import { ENDPOINT_OPTIONS, EVENT, endpoint, isMain } from './shared.js';

const PER_WORKER = 2;

interface Task {
  id: string;
  from: string;
  submitter: string;
  request: SocketMessage;
  text: string;
  rounds: number;
}

interface Worker {
  name: string;
  busy: Map<string, Task>;
}

/** Starts the broker; resolves with its server (stop it to end). */
export async function startBroker(values: Parameters<typeof endpoint>[0]) {
  const { type, options } = endpoint(values);
  const server = await createServer(type, EVENT, { ...options, maxConnections: 64 });
  const log = (text: string): void => console.log(`[broker] ${text}`);
  const pending: Task[] = [];
  const workers = new Map<string, Worker>();
  let nextId = 0;

  const dispatch = (): void => {
    while (pending.length > 0) {
      const free = [...workers.entries()]
        .filter(([, w]) => w.busy.size < PER_WORKER)
        .sort((x, y) => x[1].busy.size - y[1].busy.size)[0];
      if (free === undefined) return;
      const [workerId, worker] = free;
      const task = pending.shift() as Task;
      worker.busy.set(task.id, task);
      server.send({ kind: 'task', taskId: task.id, text: task.text, rounds: task.rounds }, workerId);
      log(`${task.id} (${Math.round(task.text.length / 1024)} KB from ${task.from}) -> ${worker.name}`);
    }
  };

  // A submitter's request: queue it; the reply is sent when a worker is done.
  server.onRequest((data, { message, clientId }) => {
    pending.push({
      id: `t${++nextId}`,
      from: String(data.from),
      submitter: clientId,
      request: message,
      text: String(data.text),
      rounds: Number(data.rounds),
    });
    dispatch();
    return undefined;
  });

  server.on('message', (m, clientId) => {
    if (m.id !== undefined) return; // requests are handled above
    if (m.data.kind === 'ready') {
      workers.set(clientId, { name: String(m.data.name), busy: new Map() });
      log(`${String(m.data.name)} ready (${workers.size} workers)`);
      dispatch();
    } else if (m.data.kind === 'result') {
      const worker = workers.get(clientId);
      const task = worker?.busy.get(String(m.data.taskId));
      if (worker === undefined || task === undefined) return;
      worker.busy.delete(task.id);
      try {
        server.reply(task.submitter, task.request, { digest: m.data.digest, worker: worker.name });
      } catch (err) {
        log(`${task.id}: its submitter left before the result (${(err as Error).message})`);
      }
      dispatch();
    }
  });

  server.on('clientDisconnected', (clientId) => {
    const worker = workers.get(clientId);
    if (worker === undefined) return;
    workers.delete(clientId);
    if (worker.busy.size > 0) log(`${worker.name} left with ${worker.busy.size} task(s): handing them to others`);
    pending.unshift(...worker.busy.values());
    dispatch();
  });

  await server.start();
  const port = 'port' in server ? server.port : undefined;
  log(`ready on ${server.address}${port === undefined ? '' : ` port ${port}`}`);
  return server;
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: ENDPOINT_OPTIONS });
  const server = await startBroker(values);
  const stop = (): void => void server.stop().then(() => console.log('[broker] stopped'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

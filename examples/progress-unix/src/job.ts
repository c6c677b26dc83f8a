/**
 * The long job: a Unix socket server that broadcasts its progress to every
 * listener connected at the time. Listeners come and go as they like; the job
 * never waits for them (except, optionally, for the first few to connect).
 *
 *   node dist/job.js [--steps 20] [--step-ms 150] [--wait-for 0] [--socket-dir DIR]
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { UnixSocketServer } from '@socketkit/unix';

/** Event name of the progress channel. */
export const EVENT = 'progress';

/** One progress update as broadcast to listeners. */
export interface Progress extends Record<string, unknown> {
  step: number;
  total: number;
  percent: number;
  stage: string;
  done: boolean;
}

const STAGES = ['reading input', 'parsing records', 'resizing images', 'compressing', 'uploading'];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Options of {@link runJob}. */
export interface JobOptions {
  steps: number;
  stepMs: number;
  /** Start only once this many listeners are connected (0 = start at once). */
  waitFor: number;
  /** Socket directory (default: `SOCKET_DIR` or `/tmp/sockets`). */
  socketDir?: string;
}

/** Runs the job, broadcasting a {@link Progress} after every step. */
export async function runJob(o: JobOptions): Promise<void> {
  const server = new UnixSocketServer({
    eventName: EVENT,
    logLevel: 'warn',
    ...(o.socketDir === undefined ? {} : { socketDir: o.socketDir }),
  });
  server.on('clientConnected', () =>
    console.log(`[job] a listener connected (${server.getConnectedClients().length} now)`),
  );
  await server.start();
  console.log(`[job] broadcasting progress on ${server.socketPath}`);
  try {
    while (server.getConnectedClients().length < o.waitFor)
      await new Promise((resolve) => server.once('clientConnected', resolve));
    for (let step = 1; step <= o.steps; step++) {
      await sleep(o.stepMs); // the actual work would happen here
      const stage = STAGES[Math.floor(((step - 1) / o.steps) * STAGES.length)] as string;
      const update: Progress = {
        step,
        total: o.steps,
        percent: Math.round((step / o.steps) * 100),
        stage,
        done: step === o.steps,
      };
      server.send(update); // broadcast; never blocks
      await server.drain(); // pace ourselves to the slowest listener
    }
    console.log('[job] finished');
  } finally {
    await server.stop(); // flushes the last update to every listener, removes the socket file
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const { values } = parseArgs({
    options: {
      steps: { type: 'string', default: '20' },
      'step-ms': { type: 'string', default: '150' },
      'wait-for': { type: 'string', default: '0' },
      'socket-dir': { type: 'string' },
    },
  });
  await runJob({
    steps: Number(values.steps),
    stepMs: Number(values['step-ms']),
    waitFor: Number(values['wait-for']),
    ...(values['socket-dir'] === undefined ? {} : { socketDir: values['socket-dir'] }),
  });
}

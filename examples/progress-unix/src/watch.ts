/**
 * A progress listener: connects to the job and draws a bar for every update
 * until the job is done. Start as many as you like, before or during the job.
 *
 *   node dist/watch.js [--name me] [--socket-dir DIR]
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { UnixSocketClient } from '@socketkit/unix';

const EVENT = 'progress';

function bar(percent: number, width = 24): string {
  const full = Math.round((percent / 100) * width);
  return `${'#'.repeat(full)}${'.'.repeat(width - full)}`;
}

/** Connects, waiting up to 10 s for a job that has not started yet (connect's waitForServer). */
async function connect(client: UnixSocketClient, name: string): Promise<void> {
  const waiting = (): void => console.log(`[${name}] no job running yet, waiting for it...`);
  client.once('reconnecting', waiting);
  try {
    await client.connect({ waitForServer: true, timeout: 10_000 });
  } finally {
    client.off('reconnecting', waiting);
  }
}

/** Watches the job until it reports `done` (or goes away). */
export async function watch(name: string, socketDir?: string): Promise<void> {
  const client = new UnixSocketClient({
    eventName: EVENT,
    logLevel: 'warn',
    autoReconnect: false,
    ...(socketDir === undefined ? {} : { socketDir }),
  });
  await connect(client, name);
  for await (const m of client) {
    const p = m.data as { percent: number; step: number; total: number; stage: string; done: boolean };
    console.log(
      `[${name}] [${bar(p.percent)}] ${String(p.percent).padStart(3)}%  step ${p.step}/${p.total}  ${p.stage}`,
    );
    if (p.done) break;
  }
  await client.disconnect();
  console.log(`[${name}] job done`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const { values } = parseArgs({
    options: { name: { type: 'string', default: `watcher-${process.pid}` }, 'socket-dir': { type: 'string' } },
  });
  await watch(values.name, values['socket-dir']);
}

/**
 * `pnpm demo`: a socketkit server and several clients, each in its own
 * process, exchanging messages for a few seconds. Every client writes
 * numbered messages (some far larger than a pipe keeps atomic) while the
 * server relays each one to every client; at the end everyone's tallies are
 * compared: nothing lost, nothing corrupted, each writer's order kept.
 *
 *   node examples/demo/dist/demo.js [--clients 4] [--seconds 3] [--transport unix|tcp]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ChildReport, Command, Tally } from './protocol.js';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '4' },
    seconds: { type: 'string', default: '3' },
    transport: { type: 'string', default: 'unix' },
  },
});
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);
const TRANSPORT = values.transport;
if (
  !(CLIENTS >= 1 && CLIENTS <= 10) ||
  !(SECONDS > 0 && SECONDS <= 60) ||
  (TRANSPORT !== 'unix' && TRANSPORT !== 'tcp')
) {
  console.error('usage: demo.js [--clients 1-10] [--seconds 1-60] [--transport unix|tcp]');
  process.exit(2);
}

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const socketDir = mkdtempSync(join(tmpdir(), 'socketkit-demo-'));
const children: ChildProcess[] = [];

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(socketDir, { recursive: true, force: true });
}

process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

function spawnChild(file: string, env: Record<string, string>): ChildProcess {
  const child = fork(here(file), [], {
    env: { ...process.env, DEMO_TRANSPORT: TRANSPORT, DEMO_SOCKET_DIR: socketDir, ...env },
  });
  child.on('error', (err) => console.error(`  (lost the IPC channel to a child: ${err.message})`));
  children.push(child);
  return child;
}

/** Resolves with the child's next report of `type`; rejects if the child exits first. */
function next<T extends ChildReport['type']>(
  child: ChildProcess,
  type: T,
  what: string,
): Promise<Extract<ChildReport, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (r: ChildReport): void => {
      if (r.type !== type) return;
      child.off('exit', onExit);
      child.off('message', onMessage);
      resolve(r as Extract<ChildReport, { type: T }>);
    };
    const onExit = (code: number | null): void => {
      child.off('message', onMessage);
      reject(new Error(`${what} exited (code ${code}) before reporting "${type}"`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const pad = (v: string | number, n: number): string => String(v).padStart(n);

/**
 * Asks the server, then the clients, for their counts and prints one line.
 * Asking the server first keeps "server received" <= "written" on screen.
 */
async function progressLine(server: ChildProcess, clients: ChildProcess[], startedAt: number): Promise<void> {
  const ask = (c: ChildProcess, what: string): Promise<Extract<ChildReport, { type: 'progress' }>> => {
    const answer = next(c, 'progress', what);
    if (c.connected) c.send({ type: 'poll' } satisfies Command);
    return answer;
  };
  const atServer = await ask(server, 'the server');
  const atClients = await Promise.all(clients.map((c, i) => ask(c, `client-${i + 1}`)));
  const written = atClients.reduce((sum, p) => sum + p.sent, 0);
  const got = atClients.reduce((sum, p) => sum + p.received, 0);
  console.log(
    `  ${pad(((Date.now() - startedAt) / 1000).toFixed(1), 5)} s   ` +
      `written ${pad(written, 6)}   server received ${pad(atServer.received, 6)}   clients received ${pad(got, 7)}`,
  );
}

async function run(): Promise<boolean> {
  console.log('socketkit demo');
  const server = spawnChild('server.js', {});
  const ready = await next(server, 'ready', 'the server');
  console.log(
    `  1 server and ${CLIENTS} clients, each in its own process, over ` +
      `${TRANSPORT === 'unix' ? 'a Unix socket' : 'TCP'}: ${ready.address}`,
  );
  console.log(
    `  every client writes numbered messages (every 20th is 16-64 KB) for ${SECONDS} s; the server relays each to ` +
      `every client\n`,
  );

  const clients = Array.from({ length: CLIENTS }, (_, i) =>
    spawnChild('client.js', {
      DEMO_NAME: `client-${i + 1}`,
      DEMO_WRITERS: String(CLIENTS),
      ...(ready.port === undefined ? {} : { DEMO_PORT: String(ready.port) }),
    }),
  );
  await Promise.all(clients.map((c, i) => next(c, 'ready', `client-${i + 1}`)));
  console.log(`  ${CLIENTS} clients connected; go!`);

  const startedAt = Date.now();
  const results = clients.map((c, i) => next(c, 'result', `client-${i + 1}`));
  for (const c of clients) c.send({ type: 'go', durationMs: SECONDS * 1000 } satisfies Command);
  let writing = true;
  const all = Promise.all(results).finally(() => {
    writing = false;
  });
  all.catch(() => undefined);
  while (writing && Date.now() - startedAt < SECONDS * 1000) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (writing) await progressLine(server, clients, startedAt).catch(() => undefined);
  }
  console.log("  writers done; waiting until every client has seen every writer's last message");
  const clientResults = await all;
  console.log('');

  const serverResult = next(server, 'result', 'the server');
  server.send({ type: 'stop' } satisfies Command);
  const serverTally = (await serverResult).perWriter;

  // Compare: what each writer sent, what the server got, what every client got.
  console.log('summary');
  console.log(`  ${'writer'.padEnd(10)} ${pad('sent', 7)} ${pad('server got', 11)} ${pad('each client got', 16)}`);
  let lost = 0;
  let outOfOrder = 0;
  let corrupted = 0;
  let totalSent = 0;
  let totalServer = 0;
  const everyone: Array<Record<string, Tally>> = [serverTally, ...clientResults.map((r) => r.perWriter)];
  for (const w of clientResults) {
    totalSent += w.sent;
    const atServer = serverTally[w.name]?.received ?? 0;
    totalServer += atServer;
    const atClients = clientResults.map((c) => c.perWriter[w.name]?.received ?? 0);
    lost += Math.max(0, w.sent - atServer) + atClients.reduce((sum, n) => sum + Math.max(0, w.sent - n), 0);
    const same = atClients.every((n) => n === atClients[0]);
    console.log(
      `  ${w.name.padEnd(10)} ${pad(w.sent, 7)} ${pad(atServer, 11)} ` +
        `${pad(same ? String(atClients[0]) : atClients.join('/'), 16)}`,
    );
  }
  for (const t of everyone.flatMap((p) => Object.values(p))) {
    outOfOrder += t.outOfOrder;
    corrupted += t.corrupted;
  }
  const delivered = clientResults.reduce(
    (sum, c) => sum + Object.values(c.perWriter).reduce((n, t) => n + t.received, 0),
    0,
  );
  console.log(
    `  ${'total'.padEnd(10)} ${pad(totalSent, 7)} ${pad(totalServer, 11)} ${pad(delivered, 16)} deliveries ` +
      `(${CLIENTS} clients)`,
  );
  const incomplete = clientResults.filter((r) => !r.complete).length;
  console.log(
    `\n  lost ${lost}   out of order ${outOfOrder}   corrupted ` +
      `${corrupted}${incomplete > 0 ? `   incomplete clients ${incomplete}` : ''}`,
  );
  for (const r of clientResults) if (r.problem !== undefined) console.log(`  ${r.name}: ${r.problem}`);
  const ok = lost === 0 && outOfOrder === 0 && corrupted === 0 && incomplete === 0 && totalSent > 0;
  console.log(
    ok ? "  OK: every message arrived exactly once, intact, in its writer's order" : '  FAILED: see the counts above',
  );
  return ok;
}

const watchdog = setTimeout(() => {
  console.error('the demo did not finish within 60 s: giving up');
  cleanup();
  process.exit(1);
}, 60_000);
watchdog.unref();

try {
  process.exitCode = (await run()) ? 0 : 1;
} catch (err) {
  console.error(`demo failed: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await Promise.all(
    children.map((c) =>
      c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((resolve) => c.once('exit', resolve)),
    ),
  );
  cleanup();
}

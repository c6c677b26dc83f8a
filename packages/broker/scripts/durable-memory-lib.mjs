// Shared by scripts/durable-memory.mjs and test/durable-memory.test.ts: a broker fixture process, filling it with
// noReply tasks, and reading its memory (test/fixture.mjs answers SIGUSR2 with a `memory` event after a GC).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('../test/fixture.mjs', import.meta.url));

/** Starts test/fixture.mjs as a broker with `options`; resolves once it is ready. */
export async function brokerFixture(options) {
  const proc = spawn(process.execPath, [FIXTURE, JSON.stringify({ role: 'broker', options })], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SOCKET_LOG_LEVEL: 'silent' },
  });
  const waiters = [];
  createInterface({ input: proc.stdout }).on('line', (line) => {
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    const i = waiters.findIndex((w) => w.pred(e));
    if (i >= 0) waiters.splice(i, 1)[0].resolve(e);
  });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const child = {
    proc,
    exited,
    kill: (signal) => proc.exitCode === null && proc.signalCode === null && proc.kill(signal),
    next: (pred) => new Promise((resolve) => waiters.push({ pred, resolve })),
  };
  await child.next((e) => e.ev === 'ready');
  return child;
}

/** The broker's memory after a GC: `{ heapUsed, external, rss, rssAnon, stats }` (bytes). */
export async function memory(child) {
  const m = child.next((e) => e.ev === 'memory');
  child.kill('SIGUSR2');
  return m;
}

/** Submits `n` noReply tasks `{ n: i, pad }` (`pad` of `bodyBytes` characters), 1,000 at a time. */
export async function fill(comm, n, bodyBytes) {
  const pad = 'x'.repeat(bodyBytes);
  for (let i = 0; i < n; i += 1000)
    await Promise.all(
      Array.from({ length: Math.min(1000, n - i) }, (_, j) => comm.taskSend({ n: i + j, pad }, { noReply: true })),
    );
}

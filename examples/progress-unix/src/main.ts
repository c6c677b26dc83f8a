/**
 * Runs the whole example: the job and three listeners, each in its own
 * process, sharing one private socket directory that is removed at the end.
 *
 *   node examples/progress-unix/dist/main.js
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const LISTENERS = 3;

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

const socketDir = mkdtempSync(join(tmpdir(), 'progress-'));
const children: ChildProcess[] = [];
const cleanup = (): void => {
  for (const c of children) if (c.exitCode === null) c.kill();
  rmSync(socketDir, { recursive: true, force: true });
};
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

try {
  // The job waits for the listeners so that each of them sees every step;
  // without --wait-for, late listeners simply join mid-way.
  const job = fork(join(here, 'job.js'), ['--socket-dir', socketDir, '--wait-for', String(LISTENERS)]);
  children.push(job);
  for (let i = 1; i <= LISTENERS; i++)
    children.push(fork(join(here, 'watch.js'), ['--name', `listener-${i}`, '--socket-dir', socketDir]));
  const codes = await Promise.all(children.map(exited));
  const ok = codes.every((c) => c === 0);
  console.log(ok ? `job and ${LISTENERS} listeners finished` : `some process failed (exit codes ${codes.join(', ')})`);
  process.exitCode = ok ? 0 : 1;
} finally {
  cleanup();
}

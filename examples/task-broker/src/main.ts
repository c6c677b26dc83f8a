/**
 * Runs the whole example: a broker, three workers and three submitters, each
 * in its own process, over a private socket directory (removed at the end).
 *
 *   node examples/task-broker/dist/main.js [--transport tcp]
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const WORKERS = 3;
const SUBMITTERS = 3;
const TASKS = 6;

const { values } = parseArgs({ options: { transport: { type: 'string', default: 'unix' } } });
const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));
const exited = (child: ChildProcess): Promise<number> =>
  new Promise((resolve) =>
    child.exitCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code ?? 1)),
  );

const socketDir = mkdtempSync(join(tmpdir(), 'broker-'));
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
  const base = values.transport === 'tcp' ? ['--transport', 'tcp', '--port', '0'] : ['--socket-dir', socketDir];
  const broker = fork(here('broker.js'), base, { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  children.push(broker);
  const brokerExit = exited(broker);
  const ready = await new Promise<string | undefined>((resolve, reject) => {
    createInterface({ input: broker.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      console.log(line);
      if (line.includes('] ready on ')) resolve(/ port (\d+)$/.exec(line)?.[1]);
    });
    void brokerExit.then((code) => reject(new Error(`the broker exited (${code}) before it was ready`)));
  });
  const endpointArgs =
    values.transport === 'tcp' ? ['--transport', 'tcp', '--port', ready as string] : ['--socket-dir', socketDir];

  const workers = Array.from({ length: WORKERS }, (_, i) =>
    fork(here('worker.js'), [...endpointArgs, '--name', `worker-${i + 1}`]),
  );
  const submitters = Array.from({ length: SUBMITTERS }, (_, i) =>
    fork(here('submit.js'), [...endpointArgs, '--name', `submitter-${i + 1}`, '--tasks', String(TASKS)]),
  );
  children.push(...workers, ...submitters);

  const submitted = await Promise.all(submitters.map(exited));
  broker.kill('SIGTERM'); // the workers end when the broker is gone
  const rest = await Promise.all([brokerExit, ...workers.map(exited)]);
  const ok = submitted.every((c) => c === 0) && rest.every((c) => c === 0);
  console.log(
    ok
      ? `${SUBMITTERS * TASKS} tasks from ${SUBMITTERS} submitters done by ${WORKERS} workers, every result correct`
      : `something failed (exit codes ${[...submitted, ...rest].join(', ')})`,
  );
  process.exitCode = ok ? 0 : 1;
} finally {
  cleanup();
}

/**
 * Runs the whole example: the service in one process (on any free port) and
 * two callers in two more, then stops the service.
 *
 *   node examples/rpc-tcp/dist/main.js
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

const service = fork(here('service.js'), ['--port', '0'], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
const exited = (child: ChildProcess): Promise<number> =>
  new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
const serviceExit = exited(service);
process.on('SIGINT', () => {
  service.kill();
  process.exit(130);
});

// Echo the service's output and wait for the line that names its port.
const port = await new Promise<number>((resolve, reject) => {
  const lines = createInterface({ input: service.stdout as NodeJS.ReadableStream });
  lines.on('line', (line) => {
    console.log(line);
    const m = /listening on \S+ port (\d+)/.exec(line);
    if (m !== null) resolve(Number(m[1]));
  });
  void serviceExit.then((code) => reject(new Error(`the service exited (${code}) before listening`)));
});

const callers = [1, 2].map((i) => fork(here('caller.js'), ['--port', String(port), '--name', `caller-${i}`]));
const codes = await Promise.all(callers.map(exited));
service.kill('SIGTERM');
await once(service, 'exit');
const ok = codes.every((c) => c === 0);
console.log(ok ? 'both callers got correct answers' : `a caller failed (exit codes ${codes.join(', ')})`);
process.exitCode = ok ? 0 : 1;

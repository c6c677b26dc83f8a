/**
 * Issue 25's broker bench: the external servers the baselines need (rabbitmq-server, redis-server),
 * started by the bench on private ports and directories, loopback only, and stopped after the run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { freePort } from '@socketkit/test-support';

export { freePort };

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICK_US = 10_000;

/** User + system CPU time (µs) of `pid` and its live descendants, from /proc (NaN where /proc is absent). */
export function treeCpuUs(pid: number): number {
  let total = 0;
  const seen = new Set<number>();
  const visit = (p: number): void => {
    if (seen.has(p)) return;
    seen.add(p);
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += (Number(f[11]) + Number(f[12])) * TICK_US;
    let children = '';
    try {
      children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8');
    } catch {
      // no children file (older kernels): the process alone
    }
    for (const c of children.trim().split(/\s+/).filter(Boolean)) {
      try {
        visit(Number(c));
      } catch {
        // exited meanwhile
      }
    }
  };
  try {
    visit(pid);
  } catch {
    return Number.NaN;
  }
  return total;
}

/** The first of `paths` that is an executable file, or undefined. */
export function findExecutable(paths: readonly string[]): string | undefined {
  for (const p of paths) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * A server process in a process group of its own, its output kept (the last 8 KiB) for the error
 * message when it does not come up.
 */
export class ServerProcess {
  readonly child: ChildProcess;
  #output = '';
  #exited: Promise<void>;
  #exitCode: string | undefined;

  constructor(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
    this.child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-8192);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.#exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.#exitCode = signal ?? String(code);
        resolve();
      });
      this.child.once('error', (err) => {
        this.#output += `\n${err.message}`;
        this.#exitCode = 'spawn error';
        resolve();
      });
    });
  }

  /** How the process ended (exit code or signal), or undefined while it runs. */
  get exitCode(): string | undefined {
    return this.#exitCode;
  }

  /** User + system CPU time (µs) of the server and its child processes so far (NaN without /proc). */
  cpuUs(): number {
    return this.child.pid === undefined ? Number.NaN : treeCpuUs(this.child.pid);
  }

  /** The last lines of its output, on one line. */
  tail(lines = 6): string {
    return this.#output.trim().split('\n').slice(-lines).join(' | ').slice(-1000);
  }

  /**
   * Calls `probe` every 250 ms until it resolves true; throws when the process exits first or after
   * `timeoutMs`, with the end of its output.
   */
  async waitReady(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.#exitCode !== undefined)
        throw new Error(`${what} exited (${this.#exitCode}) while starting: ${this.tail()}`);
      if (await probe().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs} ms: ${this.tail()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** SIGTERM to the process group, SIGKILL after `graceMs`; resolves once the process exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.#exitCode !== undefined || this.child.pid === undefined) return;
    const group = -this.child.pid;
    try {
      process.kill(group, 'SIGTERM');
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(group, 'SIGKILL');
      } catch {
        // already gone
      }
    }, graceMs);
    await this.#exited;
    clearTimeout(timer);
  }
}

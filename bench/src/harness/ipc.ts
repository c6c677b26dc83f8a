import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerRequest, WorkerResponse } from './types.js';

const WORKER_PATH = fileURLToPath(new URL('./worker.js', import.meta.url));
let spawned = 0;

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** One worker for {@link WorkerHandle.spawnAll}: the arguments of {@link WorkerHandle.spawn}. */
export interface WorkerSpec {
  name: string;
  execArgv?: string[];
  workerPath?: string;
  nofile?: number;
  readyTimeoutMs?: number;
}

/**
 * A benchmark worker process (`dist/harness/worker.js`) driven over the fork IPC
 * channel: `call(cmd, args)` resolves with the worker's answer. Servers and
 * clients always run in worker processes of their own, never in the
 * coordinator.
 */
export class WorkerHandle {
  readonly name: string;
  readonly child: ChildProcess;
  #nextId = 0;
  readonly #pending = new Map<number, Pending>();
  #exited = false;
  #exitPromise: Promise<void>;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    child.on('message', (raw) => {
      const msg = raw as WorkerResponse;
      const p = this.#pending.get(msg.id);
      if (p === undefined) return;
      this.#pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${this.name}: ${msg.error}`));
    });
    this.#exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exited = true;
        for (const [id, p] of this.#pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`${this.name} exited (code ${code}, signal ${signal}) while running a command`));
          this.#pending.delete(id);
        }
        resolve();
      });
    });
  }

  /**
   * Forks a worker and waits until it is ready.
   * @param name Shown in errors (e.g. `server`, `client3`).
   * @param execArgv Extra Node flags (e.g. `--cpu-prof`).
   * @param workerPath The worker script (default `dist/worker.js`; issue 25's broker bench forks its own).
   * @param nofile [issue 28: idle clients] Raise the worker's open-file limit (`ulimit -n`) to this, or to the
   *   hard limit when that is lower: the worker is started through `/bin/sh -c 'ulimit -n …; exec node …'`.
   */
  static async spawn(
    name: string,
    execArgv: string[] = [],
    workerPath: string = WORKER_PATH,
    nofile?: number,
    readyTimeoutMs = 15_000,
  ): Promise<WorkerHandle> {
    // Name CPU profiles after the worker's role (server, client1, ...).
    const profName = execArgv.includes('--cpu-prof')
      ? [`--cpu-prof-name=${name}-${Date.now()}-${++spawned}.cpuprofile`]
      : [];
    const nodeArgs = ['--expose-gc', ...execArgv, ...profName];
    // [issue 28: idle clients] sh keeps the IPC descriptor across `exec`; "$0" "$@" is node, its flags, the script.
    const raise = `ulimit -n ${nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
    const child = fork(workerPath, [name], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      ...(nofile === undefined
        ? { execArgv: nodeArgs }
        : { execPath: '/bin/sh', execArgv: ['-c', raise, process.execPath, ...nodeArgs] }),
    });
    const handle = new WorkerHandle(name, child);
    try {
      await handle.call('ping', {}, readyTimeoutMs);
    } catch (err) {
      // Not ready: nobody will ever close it, so it must not outlive the failure (a live child keeps the run open).
      child.kill('SIGKILL');
      await handle.#exitPromise;
      throw err;
    }
    return handle;
  }

  /**
   * Forks several workers at once and waits until all are ready. When one fails, the others are closed before the
   * error is thrown: a worker left running would keep the coordinator from exiting.
   */
  static async spawnAll(specs: readonly WorkerSpec[]): Promise<WorkerHandle[]> {
    const settled = await Promise.allSettled(
      specs.map((s) => WorkerHandle.spawn(s.name, s.execArgv, s.workerPath, s.nofile, s.readyTimeoutMs)),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed === undefined) return settled.map((r) => (r as PromiseFulfilledResult<WorkerHandle>).value);
    await Promise.all(settled.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    throw failed.reason;
  }

  /**
   * Runs a command in the worker.
   * @param timeoutMs Rejects after this long (the worker keeps running; the
   *   coordinator then tears it down).
   */
  call<T = unknown>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 90_000): Promise<T> {
    if (this.#exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = ++this.#nextId;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: "${cmd}" did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      const req: WorkerRequest = { id, cmd, args };
      this.child.send(req);
    });
  }

  /** Asks the worker to exit (it closes its sockets first); kills it if it does not within 5 s. */
  async close(): Promise<void> {
    if (this.#exited) return;
    this.call('exit', {}, 5_000).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.#exitPromise;
    clearTimeout(timer);
  }
}

/** Marks `p` as handled now (so an early failure elsewhere is no unhandled rejection) and returns it to await later. */
export function later<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

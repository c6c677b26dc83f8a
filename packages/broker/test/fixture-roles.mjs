// What the two test fixtures (fixture.mjs: socket broker, jetstream-fixture.mjs: JetStream backend) do alike: the
// task handler of the worker role, the RPC handler, and the submitter's one task. `out` writes one JSON event a line.
import { TaskRejected } from '../dist/index.js';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * The worker's task handler: reports `start` and `end`; a body's `poison` kills the process, `sleepMs`, `hang` and
 * `fail` do what they say; `cfg.rejectAll`, `cfg.sleepMs` and `cfg.hang` do so for every task.
 */
export function taskHandler(cfg, out) {
  let running = 0;
  return async (body, ctx) => {
    running++;
    out({ ev: 'start', n: body?.n, taskId: ctx.taskId, attempt: ctx.attempt, redelivered: ctx.redelivered, running });
    try {
      if (body?.poison) process.kill(process.pid, 'SIGKILL');
      if (cfg.rejectAll) throw new TaskRejected();
      if (body?.sleepMs) await sleep(body.sleepMs);
      if (cfg.sleepMs) await sleep(cfg.sleepMs);
      if (cfg.hang) await new Promise(() => undefined);
      if (body?.hang) await new Promise(() => undefined);
      if (body?.fail) throw Object.assign(new Error(`task ${body.n} failed`), { code: 'TASK_FAILED' });
      return { n: body?.n, by: process.pid, attempt: ctx.attempt };
    } finally {
      running--;
      out({ ev: 'end', n: body?.n, taskId: ctx.taskId, attempt: ctx.attempt, aborted: ctx.signal.aborted });
    }
  };
}

/** The RPC handler: reports the `call`; a body's `hang` never answers, `sleepMs` waits; echoes the body. */
export function rpcHandler(out) {
  return async (body) => {
    out({ ev: 'call', body });
    if (body?.hang) await new Promise(() => undefined);
    if (body?.sleepMs) await sleep(body.sleepMs);
    return { echo: body, by: process.pid };
  };
}

/** The submitter's tasks: `send(n)` sends one (`{ n }`, with `cfg.sleepMs`) and reports its outcome or failure. */
export function submitter(comm, cfg, out) {
  const counts = { ok: 0, failed: 0 };
  const send = async (n) => {
    try {
      const r = await comm.taskSend(cfg.sleepMs === undefined ? { n } : { n, sleepMs: cfg.sleepMs });
      counts.ok++;
      out({ ev: 'outcome', n, result: r });
    } catch (e) {
      counts.failed++;
      out({ ev: 'failure', n, code: e.code, message: e.message });
    }
  };
  return { counts, send };
}

/**
 * The worker side of the bench's IPC (the coordinator side is `ipc.ts`): answers each `{id, cmd, args}` request from
 * the parent with the command's result or its error, and exits when the parent goes away.
 */
import type { WorkerRequest, WorkerResponse } from './types.js';

/** Serves `commands` over the process's IPC channel until the coordinator disconnects. */
export function serveCommands<A>(commands: Record<string, (args: A) => unknown>): void {
  process.on('message', (raw) => {
    const req = raw as WorkerRequest;
    const reply = (r: WorkerResponse): void => {
      if (process.connected) process.send?.(r);
    };
    const fn = commands[req.cmd];
    if (fn === undefined) {
      reply({ id: req.id, ok: false, error: `unknown command ${req.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => fn(req.args as A))
      .then(
        (result) => reply({ id: req.id, ok: true, result: result ?? null }),
        (err: unknown) =>
          reply({ id: req.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  // The coordinator went away: do not linger.
  process.on('disconnect', () => process.exit(0));
}

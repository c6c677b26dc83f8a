/** Messages between the demo's orchestrator and its child processes (over the Node IPC channel, not socketkit). */

/** Event name the demo's server serves. */
export const EVENT = 'demo';

/** Per-writer tallies: messages seen, out-of-order arrivals, corrupted payloads. */
export interface Tally {
  received: number;
  outOfOrder: number;
  corrupted: number;
  /** The `total` announced by the writer's final message, once seen. */
  announced?: number;
}

/** Child → orchestrator. */
export type ChildReport =
  | { type: 'ready'; address: string; port?: number }
  | { type: 'progress'; name: string; sent: number; received: number }
  | {
      type: 'result';
      name: string;
      sent: number;
      perWriter: Record<string, Tally>;
      complete: boolean;
      problem?: string;
    };

/** Orchestrator → child. */
export type Command = { type: 'go'; durationMs: number } | { type: 'poll' } | { type: 'stop' };

/** Sends a report to the orchestrator. */
export function report(r: ChildReport): void {
  if (process.connected) process.send?.(r);
}

/** Records message `seq` of `writer` into `perWriter`, checking order and integrity. */
export function tally(perWriter: Record<string, Tally>, writer: string, seq: number, intact: boolean): void {
  const t = (perWriter[writer] ??= { received: 0, outOfOrder: 0, corrupted: 0 });
  if (seq !== t.received + 1) t.outOfOrder++;
  if (!intact) t.corrupted++;
  t.received++;
}

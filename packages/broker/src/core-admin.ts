/**
 * The broker's remote operations (`admin` messages: stats, tasks, requeue,
 * purgeDead), answered from the in-process API of the core. Whether they are
 * allowed at all (`adminOps`) is the core's to check first.
 */
import type { BrokerStats, TaskInfo } from './core-limits.js';
import { refuse } from './core-refusals.js';
import type { WireError } from './errors.js';
import type { TaskState } from './store.js';

/** The in-process operations an `admin` message maps to (`BrokerCore` has them). */
export interface AdminOps {
  /** Counts and loads. */
  stats(): BrokerStats;
  /** Tasks in a state. */
  listTasks(options?: { state?: TaskState; limit?: number }): TaskInfo[];
  /** Puts a task back in the queue. */
  requeue(taskId: string): boolean;
  /** Drops every dead letter. */
  purgeDead(): number;
}

/** The answer to an `admin` message: its result (`ok`) or a refusal (bad state, unknown op). */
export function adminAnswer(ops: AdminOps, m: Record<string, unknown>): WireError | { ok: unknown } {
  const state = m.state as TaskState | undefined;
  if (state !== undefined && !['pending', 'inflight', 'done', 'dead'].includes(state)) {
    return refuse.badState(state);
  }
  switch (m.op) {
    case 'stats':
      return { ok: ops.stats() };
    case 'tasks': {
      const limit = typeof m.limit === 'number' && m.limit > 0 ? m.limit : undefined;
      return {
        ok: ops.listTasks({ ...(state === undefined ? {} : { state }), ...(limit === undefined ? {} : { limit }) }),
      };
    }
    case 'requeue':
      return { ok: ops.requeue(String(m.taskId)) };
    case 'purgeDead':
      return { ok: ops.purgeDead() };
    default:
      return refuse.unknownAdminOp(m.op);
  }
}

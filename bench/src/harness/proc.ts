/**
 * CPU time of the helper processes a worker starts (the Python peer), so a
 * worker's CPU figure covers all the work done on its side.
 */
import { readFileSync } from 'node:fs';

/** Pids of the live helper processes of this worker. */
export const childPids = new Set<number>();

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICK_US = 10_000;

/** User + system CPU time (µs) of the live helper processes, from /proc (0 where /proc is absent). */
export function childrenCpuUs(): number {
  let total = 0;
  for (const pid of childPids) {
    try {
      // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(f[11]) + Number(f[12])) * TICK_US;
    } catch {
      // exited, or not Linux
    }
  }
  return total;
}

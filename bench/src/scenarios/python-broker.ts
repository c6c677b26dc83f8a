/**
 * Broker throughput with Python workers beside Node workers (issue 26; report only, no target yet): runs
 * `python/scripts/bench.py --json` in the Python client's virtual environment (made by python/scripts/venv.sh
 * when missing) and returns its rows, or why it was skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** One fleet of workers and the tasks/s it reached. */
export interface PythonBrokerRow {
  fleet: string;
  tasks: number;
  ok: number;
  failed: number;
  seconds: number;
  tasksPerSecond: number;
  executedBy: Record<string, number>;
}

/** The Python-beside-Node broker scenario: rows, or the reason it was skipped. */
export interface PythonBrokerResult {
  ok: boolean;
  transport?: string;
  rows?: PythonBrokerRow[];
  error?: string;
}

/** Runs the scenario (synchronously: a few seconds) from the repository root `root`. */
export function runPythonBroker(root: string, tasks: number): PythonBrokerResult {
  const py = join(root, 'python');
  if (!existsSync(join(root, 'packages/broker/dist/index.js'))) {
    return { ok: false, error: '@socketkit/broker is not built' };
  }
  const venv = spawnSync('bash', [join(py, 'scripts/venv.sh')], { encoding: 'utf8', timeout: 300_000 });
  if (venv.status !== 0) {
    return { ok: false, error: `python/.venv could not be made: ${(venv.stderr ?? '').trim().slice(0, 300)}` };
  }
  const args = [join(py, 'scripts/bench.py'), '--json', '--tasks', String(tasks)];
  const r = spawnSync(join(py, '.venv/bin/python'), args, {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, SOCKET_LOG_LEVEL: 'silent' },
  });
  if (r.status !== 0) {
    return { ok: false, error: `python/scripts/bench.py failed: ${(r.stderr ?? '').trim().slice(-300)}` };
  }
  try {
    const parsed = JSON.parse(r.stdout) as { transport: string; rows: PythonBrokerRow[] };
    return { ok: true, transport: parsed.transport, rows: parsed.rows };
  } catch (e) {
    return { ok: false, error: `python/scripts/bench.py printed no JSON: ${(e as Error).message}` };
  }
}

/** Text lines for the summary. */
export function pythonBrokerLines(r: PythonBrokerResult): string[] {
  if (!r.ok || r.rows === undefined) return [`Broker with Python workers: skipped (${r.error ?? 'unknown'})`];
  return [
    `Broker tasks/s with Python workers beside Node workers (${r.transport}, no-op tasks, prefetch 8; report only)`,
    ...r.rows.map(
      (x) =>
        `  ${x.fleet.padEnd(28)} ${String(x.tasksPerSecond).padStart(7)} tasks/s  (${x.ok}/${x.tasks}, by ` +
        `${JSON.stringify(x.executedBy)})`,
    ),
  ];
}

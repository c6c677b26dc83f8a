import { loadConfig } from 'socketkit';
import { SocketError } from '@socketkit/unix';
import type { ParsedCommand } from './args.js';
import { readToken } from './commands.js';
import { cleanSocketDir, formatLsTable, inspectSocketDir } from './ls.js';
import { addStats } from './monitor.js';
import { safeJson, safeText } from './output.js';

/**
 * `socketkit ls`: prints the table (or JSON, with each live server's stats)
 * and, with `--clean`, removes stale sockets. Stats are asked only of
 * entries not flagged insecure (the monitor's hello, and a token, never go
 * where another user may listen). `--clean` in a directory that cannot be
 * trusted removes nothing and exits 1.
 */
export async function ls(a: Extract<ParsedCommand, { command: 'ls' }>): Promise<number> {
  const dir = a.socketDir ?? loadConfig().socketDir;
  const entries = await inspectSocketDir(dir);
  for (const e of entries) if (e.insecure && e.state === 'live') e.statsUnavailable = 'insecure';
  await addStats(
    dir,
    entries.filter((e) => !e.insecure),
    { token: a.tokenFile === undefined ? undefined : readToken(a.tokenFile) },
  );
  if (a.json) process.stdout.write(`${safeJson(entries)}\n`);
  else
    process.stdout.write(
      safeText(entries.length === 0 ? `no events in ${dir}\n` : `${formatLsTable(entries)}\n`, { newlines: true }),
    );
  if (a.clean) {
    let removed: string[];
    try {
      removed = await cleanSocketDir(entries);
    } catch (err) {
      if (!(err instanceof SocketError)) throw err;
      process.stderr.write(`not cleaning: ${safeText(err.message)}\n`);
      return 1;
    }
    for (const p of removed) process.stderr.write(`removed stale socket ${safeText(p)}\n`);
    if (removed.length === 0) process.stderr.write('no stale sockets to remove\n');
  }
  return 0;
}

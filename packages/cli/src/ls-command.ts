import { loadConfig } from 'socketkit';
import type { ParsedCommand } from './args.js';
import { readToken } from './commands.js';
import { cleanSocketDir, formatLsTable, inspectSocketDir } from './ls.js';
import { addStats } from './monitor.js';
import { safeJson, safeText } from './output.js';

/** `socketkit ls`: prints the table (or JSON, with each live server's stats) and, with `--clean`, removes stale sockets. */
export async function ls(a: Extract<ParsedCommand, { command: 'ls' }>): Promise<number> {
  const dir = a.socketDir ?? loadConfig().socketDir;
  const entries = await inspectSocketDir(dir);
  await addStats(dir, entries, { token: a.tokenFile === undefined ? undefined : readToken(a.tokenFile) });
  if (a.json) process.stdout.write(`${safeJson(entries)}\n`);
  else process.stdout.write(safeText(entries.length === 0 ? `no events in ${dir}\n` : `${formatLsTable(entries)}\n`, { newlines: true }));
  if (a.clean) {
    const removed = await cleanSocketDir(entries);
    for (const p of removed) process.stderr.write(`removed stale socket ${safeText(p)}\n`);
    if (removed.length === 0) process.stderr.write('no stale sockets to remove\n');
  }
  return 0;
}

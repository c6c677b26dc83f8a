import { TcpClientTransport } from '@socketkit/tcp';
import { UnixClientTransport } from '@socketkit/unix';
import { fetchStats, type ServerStats } from 'socketkit';
import type { LsEntry, LsStats } from './ls.js';

/** How long one stats request of `ls`, `top` and `stats` may take by default (ms). */
export const STATS_TIMEOUT_MS = 2000;

/** What a monitor command knows beyond the entry: the token of servers that have one, the time allowed. */
export interface MonitorOptions {
  token?: string | undefined;
  timeoutMs?: number;
}

/** Splits the `host:port` of a tcp entry (the port is after the last colon; an IPv6 host keeps its colons). */
function hostPort(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(at + 1)) };
}

/** Asks the server of one `ls` entry (a unix socket, or a tcp address file) for its stats, as a monitor. */
export function statsOfEntry(dir: string, entry: LsEntry, options: MonitorOptions = {}): Promise<ServerStats> {
  const transport =
    entry.transport === 'tcp' && entry.address !== undefined
      ? new TcpClientTransport({ ...hostPort(entry.address), eventName: entry.event })
      : new UnixClientTransport(dir, entry.event);
  return fetchStats(transport, entry.event, {
    timeoutMs: options.timeoutMs ?? STATS_TIMEOUT_MS,
    ...(options.token === undefined ? {} : { token: options.token }),
  });
}

/** The few numbers `ls` shows of a server's stats (the same as `top`). */
export function lsStats(s: ServerStats): LsStats {
  return { clients: s.clients.length, maxConnections: s.maxConnections, queue: s.queue.length, rates: s.rates };
}

/** Why stats could not be read, in the words `ls` prints in the stats columns. */
export function unavailable(err: unknown, withToken: boolean): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'STATS_DISABLED') return 'stats off';
  if (code === 'UNAUTHORIZED') return withToken ? 'unauthorized' : 'token needed';
  return typeof code === 'string' ? code : 'no answer';
}

/** Adds `stats` (or `statsUnavailable`) to every live entry, asking the servers at once. */
export async function addStats(dir: string, entries: LsEntry[], options: MonitorOptions = {}): Promise<void> {
  await Promise.all(
    entries
      .filter((e) => e.state === 'live')
      .map(async (e) => {
        try {
          e.stats = lsStats(await statsOfEntry(dir, e, options));
        } catch (err) {
          e.statsUnavailable = unavailable(err, options.token !== undefined);
        }
      }),
  );
}

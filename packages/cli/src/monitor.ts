import { TcpClientTransport } from '@socketkit/tcp';
import { UnixClientTransport } from '@socketkit/unix';
import { ErrorCode, MessageError, fetchStats, type FetchStatsOptions, type ServerStats } from 'socketkit';

/** The transport `fetchStats` asks through (unix or tcp client transport). */
type StatsTransport = Parameters<typeof fetchStats>[0];
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

/** Where a stats reply's shape is wrong: `clients[2].id is a number, expected a string`. */
function shapeError(
  value: unknown,
  expected: 'number' | 'string' | 'boolean' | 'object' | 'array',
  path: string,
): string | undefined {
  const got = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  if (got === expected && (expected !== 'number' || Number.isFinite(value))) return undefined;
  const shown = got === 'undefined' ? 'missing' : got === 'number' ? String(value) : `of type ${got}`;
  return `${path} is ${shown}, expected type ${expected}`;
}

const STATS_NUMBERS = ['protocol', 'startedAt', 'uptimeMs', 'maxConnections'] as const;
const GROUPS = {
  queue: ['length', 'capacity', 'dropped'],
  totals: ['messagesIn', 'messagesOut', 'bytesIn', 'bytesOut', 'slowConsumerDisconnects'],
  rates: ['messagesIn', 'messagesOut', 'bytesIn', 'bytesOut'],
} as const;
const CLIENT_NUMBERS = [
  'connectedAt',
  'pendingBytes',
  'messagesIn',
  'messagesOut',
  'bytesIn',
  'bytesOut',
  'dropped',
] as const;
/** Most clients a stats reply may list (a server has at most a few thousand). */
const MAX_STATS_CLIENTS = 100_000;

/** The first thing wrong with a stats reply's shape, or undefined when it is a {@link ServerStats}. */
export function statsShapeError(s: unknown): string | undefined {
  const o = s as Record<string, unknown>;
  const check = (value: unknown, expected: Parameters<typeof shapeError>[1], path: string): string | undefined =>
    shapeError(value, expected, path);
  let err = check(s, 'object', 'stats') ?? check(o.event, 'string', 'event');
  for (const k of STATS_NUMBERS) err ??= check(o[k], 'number', k);
  for (const [group, keys] of Object.entries(GROUPS)) {
    err ??= check(o[group], 'object', group);
    for (const k of keys)
      err ??= check((o[group] as Record<string, unknown> | undefined)?.[k], 'number', `${group}.${k}`);
  }
  err ??= check(o.refused, 'object', 'refused');
  if (err === undefined)
    for (const [k, n] of Object.entries(o.refused as object)) err ??= check(n, 'number', `refused.${k}`);
  err ??= check(o.clients, 'array', 'clients');
  if (err === undefined && (o.clients as unknown[]).length > MAX_STATS_CLIENTS)
    err = `clients lists more than ${MAX_STATS_CLIENTS}`;
  (err === undefined ? (o.clients as unknown[]) : []).forEach((c, i) => {
    err ??= check(c, 'object', `clients[${i}]`);
    const co = c as Record<string, unknown>;
    err ??= check(co.id, 'string', `clients[${i}].id`) ?? check(co.handshake, 'boolean', `clients[${i}].handshake`);
    for (const k of CLIENT_NUMBERS) err ??= check(co[k], 'number', `clients[${i}].${k}`);
  });
  return err;
}

/**
 * `fetchStats`, and the reply checked to be a {@link ServerStats} before any
 * of it is shown: the server may be anything that listens there.
 * @throws MessageError `INVALID_MESSAGE` naming the first field that is wrong.
 */
export async function fetchCheckedStats(
  transport: StatsTransport,
  event: string,
  options: FetchStatsOptions,
): Promise<ServerStats> {
  const stats = await fetchStats(transport, event, options);
  const wrong = statsShapeError(stats);
  if (wrong !== undefined) {
    throw new MessageError(
      ErrorCode.INVALID_MESSAGE,
      `${transport.address()} sent a malformed stats reply (${wrong}): is a socketkit server of a compatible version ` +
        `listening there?`,
      { details: { address: transport.address(), problem: wrong } },
    );
  }
  return stats;
}

/** Asks the server of one `ls` entry (a unix socket, or a tcp address file) for its stats, as a monitor. */
export function statsOfEntry(dir: string, entry: LsEntry, options: MonitorOptions = {}): Promise<ServerStats> {
  const transport =
    entry.transport === 'tcp' && entry.address !== undefined
      ? new TcpClientTransport({ ...hostPort(entry.address), eventName: entry.event })
      : new UnixClientTransport(dir, entry.event);
  return fetchCheckedStats(transport, entry.event, {
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

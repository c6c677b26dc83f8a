import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, ValidationError, loadConfig, transportImplementation } from 'socketkit';
import type { ServerStats, TransportImplementation } from 'socketkit';
import type { ParsedCommand } from './args.js';
import type { JetStreamTarget } from './broker-args.js';
import { readToken } from './commands.js';
import { inspectSocketDir } from './ls.js';
import { STATS_TIMEOUT_MS, fetchCheckedStats, statsOfEntry } from './monitor.js';
import { safeJson, safeText } from './output.js';
import { brokerCell, brokerFiguresOf, formatBrokerFigures } from './broker-stats.js';

type StatsArgs = Extract<ParsedCommand, { command: 'stats'; jetstream?: undefined }>;
type JetStreamStatsArgs = Exclude<Extract<ParsedCommand, { command: 'stats' }>, StatsArgs>;
type StatsFactory = NonNullable<TransportImplementation['createStatsTransport']>;

/**
 * The client transport to the server `socketkit stats` names, made by its transport (`createStatsTransport`) from
 * the options its flags gave: unix by its socket; tcp by --port or the address file.
 */
async function statsTransport(a: StatsArgs): Promise<ReturnType<StatsFactory>> {
  const implementation = await transportImplementation(a.transport);
  if (implementation.createStatsTransport === undefined) {
    throw new ValidationError(ErrorCode.INVALID_CONFIG, `the "${a.transport}" transport cannot be asked for stats`, {
      details: { transport: a.transport },
    });
  }
  return implementation.createStatsTransport({ ...a.transportOptions, eventName: a.event });
}

/** Human-readable byte count. */
function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * One server's stats as a few lines of text, each safe to show ({@link safeText}: the server chose the names in it).
 */
export function formatStats(s: ServerStats): string {
  const refused =
    Object.entries(s.refused)
      .map(([c, n]) => `${c}=${n}`)
      .join(' ') || 'none';
  const lines = [
    `event ${s.event}  protocol ${s.protocol}  up ${(s.uptimeMs / 1000).toFixed(1)} s  clients ` +
      `${s.clients.length}/${s.maxConnections}`,
    `queue ${s.queue.length}/${s.queue.capacity} (dropped ${s.queue.dropped})  ` +
      `slow consumers ${s.totals.slowConsumerDisconnects}  refused ${refused}`,
    `in  ${s.rates.messagesIn} msg/s ${bytes(s.rates.bytesIn)}/s  total ${s.totals.messagesIn} msg ` +
      `${bytes(s.totals.bytesIn)}`,
    `out ${s.rates.messagesOut} msg/s ${bytes(s.rates.bytesOut)}/s  total ${s.totals.messagesOut} msg ` +
      `${bytes(s.totals.bytesOut)}`,
  ];
  for (const c of s.clients) {
    lines.push(
      `  ${c.id}  ${c.handshake ? 'hello' : 'plain'}  in ${c.messagesIn}  out ${c.messagesOut}  pending ` +
        `${bytes(c.pendingBytes)}  dropped ${c.dropped}`,
    );
  }
  const broker = brokerFiguresOf(s);
  return [...lines.map((l) => safeText(l)), ...(broker === undefined ? [] : [formatBrokerFigures(broker)])].join('\n');
}

/**
 * `socketkit stats <event>` (or `<namespace> --transport jetstream`): one sample, or `--watch` samples until SIGINT or
 * `--count`.
 */
export async function stats(a: StatsArgs | JetStreamStatsArgs): Promise<number> {
  let sample: () => Promise<string>;
  if (a.jetstream !== undefined) {
    const target = a.jetstream;
    const { formatJetStreamFigures, jetStreamFigures } = await import('./jetstream-command.js');
    sample = async () => {
      const s = await jetStreamFigures(target, a.timeout);
      return a.json ? safeJson({ jetstream: s }) : formatJetStreamFigures(s);
    };
  } else {
    const transport = await statsTransport(a);
    const options = {
      timeoutMs: a.timeout === undefined ? STATS_TIMEOUT_MS : Math.round(a.timeout * 1000),
      ...(a.tokenFile === undefined ? {} : { token: readToken(a.tokenFile) }),
    };
    sample = async () => {
      const s = await fetchCheckedStats(transport, a.event, options);
      return a.json ? safeJson(s) : formatStats(s);
    };
  }
  const samples = a.watch ? (a.count ?? Number.POSITIVE_INFINITY) : (a.count ?? 1);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    for (let i = 0; i < samples && !stop.signal.aborted; i++) {
      if (i > 0) await sleep(a.intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
      if (stop.signal.aborted) break;
      const text = await sample();
      process.stdout.write(`${!a.json && a.watch && process.stdout.isTTY ? '\x1b[H\x1b[2J' : ''}${text}\n`);
    }
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  return 0;
}

/**
 * One refresh of `socketkit top`: every event of the directory, live ones with their stats (every cell safe to show).
 */
export async function topTable(dir: string, token?: string, jetstream?: JetStreamTarget): Promise<string> {
  const entries = await inspectSocketDir(dir);
  const rows: string[][] = [['EVENT', 'STATE', 'CLIENTS', 'QUEUE', 'IN/s', 'OUT/s', 'PENDING', 'DROPS', 'TASKS P/I/D']];
  for (const e of entries) {
    if (e.state !== 'live') {
      rows.push([e.event, e.state, '-', '-', '-', '-', '-', '-', '-']);
      continue;
    }
    try {
      const s = await statsOfEntry(dir, e, { token });
      const pending = s.clients.reduce((n, c) => n + c.pendingBytes, 0);
      const drops = s.queue.dropped + s.clients.reduce((n, c) => n + c.dropped, 0);
      rows.push([
        e.event,
        'live',
        `${s.clients.length}/${s.maxConnections}`,
        String(s.queue.length),
        String(s.rates.messagesIn),
        String(s.rates.messagesOut),
        bytes(pending),
        String(drops),
        brokerCell(brokerFiguresOf(s)),
      ]);
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'ERROR';
      rows.push([e.event, `live (${code})`, '-', '-', '-', '-', '-', '-', '-']);
    }
  }
  if (jetstream !== undefined)
    rows.push(...(await (await import('./jetstream-command.js')).jetStreamTopRows(jetstream)));
  // The TASKS column (pending/in flight/dead) only when a broker is listed.
  const anyBroker = rows.slice(1).some((r) => r[8] !== '-');
  const shown = rows.map((r) => (anyBroker ? r : r.slice(0, 8)).map((c) => safeText(c)));
  const widths = shown[0]!.map((_, i) => Math.max(...shown.map((r) => r[i]!.length)));
  return shown
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `socketkit top`: refreshes in place in a terminal, plain blocks otherwise. */
export async function top(a: Extract<ParsedCommand, { command: 'top' }>): Promise<number> {
  const dir = a.socketDir ?? loadConfig().socketDir;
  const token = a.tokenFile === undefined ? undefined : readToken(a.tokenFile);
  const tty = process.stdout.isTTY === true;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    const refreshes = a.count ?? Number.POSITIVE_INFINITY;
    for (let i = 0; i < refreshes && !stop.signal.aborted; i++) {
      if (i > 0) await sleep(a.intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
      if (stop.signal.aborted) break;
      const table = await topTable(dir, token, a.jetstream);
      process.stdout.write(
        tty ? `\x1b[H\x1b[2J${new Date().toISOString()}  ${safeText(dir)}\n${table}\n` : `${table}\n\n`,
      );
    }
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
  return 0;
}

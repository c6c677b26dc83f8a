import { lstat, readFile, readdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

/**
 * What `socketkit ls` finds in a socket directory. Replaces the manual
 * `find -type s` / `lsof` / `stat` routine: every `*.sock` entry is checked
 * for type, owner and mode, and probed with a connect that is closed at once
 * (servers do not count such a probe as a client: it never says hello and
 * leaves before registering).
 */

/** State of one entry. */
export type EntryState =
  /** A server accepted the probe. */
  | 'live'
  /** A socket file nobody listens on (connect refused): safe to remove. */
  | 'stale'
  /** The path is not a socket (never removed). */
  | 'not-a-socket'
  /** The probe was not allowed (another user's socket, mode without write for us). */
  | 'denied'
  /** A server is there but did not accept in time (full backlog, stuck process). */
  | 'busy';

/** One event found in the socket directory. */
export interface LsEntry {
  /** Event name (file name without `.sock` / `.tcp`). */
  event: string;
  /** `unix` for a socket file, `tcp` for the address file a TCP server with an auto-picked port publishes. */
  transport: 'unix' | 'tcp';
  /** `host:port` of a TCP entry (from its address file). */
  address?: string;
  /** Full path. */
  path: string;
  /** What the probe found. */
  state: EntryState;
  /** Owner uid. */
  uid: number;
  /** Permission bits, octal string (e.g. `"0600"`). */
  mode: string;
  /** True when the file is writable by group or others, or owned by someone other than us or root. */
  insecure: boolean;
  /** A live server's clients, queue and rates, read as a monitor (when it exposes stats to us). */
  stats?: LsStats;
  /** Why a live server's stats could not be read: `stats off` (it does not expose them), `token needed`, `unauthorized`, or an error code. */
  statsUnavailable?: string;
}

/** What `ls` shows of a live server's stats (the numbers of `top`). */
export interface LsStats {
  /** Registered clients. */
  clients: number;
  /** The server's `maxConnections`. */
  maxConnections: number;
  /** Messages waiting in the no-client queue. */
  queue: number;
  /** Per second over the last few seconds. */
  rates: { messagesIn: number; messagesOut: number; bytesIn: number; bytesOut: number };
}

/** Options of {@link inspectSocketDir}. */
export interface InspectOptions {
  /** How long one liveness probe may take (ms, default 1000). */
  probeTimeoutMs?: number;
}

/** What a failed probe connect means (ECONNREFUSED: nobody listens; EAGAIN: a full backlog). */
function probeError(code: string | undefined): EntryState {
  if (code === 'ECONNREFUSED' || code === 'ENOENT') return 'stale';
  if (code === 'EACCES' || code === 'EPERM') return 'denied';
  if (code === 'ENOTSOCK') return 'not-a-socket';
  return 'busy';
}

/** Connects to `target` and closes at once: the liveness probe of `ls` (never counted as a client). */
function probe(target: { path: string } | { host: string; port: number }, timeoutMs: number): Promise<EntryState> {
  return new Promise((resolve) => {
    const sock = connect(target);
    const done = (state: EntryState) => {
      clearTimeout(timer);
      sock.removeAllListeners();
      sock.on('error', () => undefined);
      sock.destroy();
      resolve(state);
    };
    const timer = setTimeout(() => done('busy'), timeoutMs);
    sock.once('connect', () => done('live'));
    sock.once('error', (err: NodeJS.ErrnoException) => done(probeError(err.code)));
  });
}

/** Probes a Unix socket path: connect, then close at once. */
export function probeSocket(path: string, timeoutMs = 1000): Promise<EntryState> {
  return probe({ path }, timeoutMs);
}

/** Probes a TCP address: connect, then close at once. */
export function probeTcp(host: string, port: number, timeoutMs = 1000): Promise<EntryState> {
  return probe({ host, port }, timeoutMs);
}

/** Reads an address file's host and port (undefined when it is not a valid record). */
async function readAddress(path: string): Promise<{ host: string; port: number } | undefined> {
  try {
    const rec = JSON.parse(await readFile(path, 'utf8')) as { host?: unknown; port?: unknown };
    if (typeof rec.host !== 'string' || !Number.isInteger(rec.port)) return undefined;
    return { host: rec.host, port: rec.port as number };
  } catch {
    return undefined;
  }
}

/**
 * Lists every `*.sock` socket file and `*.tcp` address file of `dir`, sorted
 * by file name. A missing directory lists nothing.
 */
export async function inspectSocketDir(dir: string, options: InspectOptions = {}): Promise<LsEntry[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const me = process.getuid?.() ?? 0;
  const entries = await Promise.all(
    names
      .filter((n) => n.endsWith('.sock') || n.endsWith('.tcp'))
      .sort()
      .map(async (name): Promise<LsEntry | undefined> => {
        const path = join(dir, name);
        let st;
        try {
          st = await lstat(path);
        } catch {
          return undefined; // removed while we looked
        }
        const mode = st.mode & 0o7777;
        const insecure = (mode & 0o022) !== 0 || (st.uid !== me && st.uid !== 0);
        const common = { path, uid: st.uid, mode: `0${mode.toString(8).padStart(3, '0')}`, insecure };
        if (name.endsWith('.tcp')) {
          const event = name.slice(0, -'.tcp'.length);
          if (!st.isFile()) return { event, transport: 'tcp', state: 'not-a-socket', ...common };
          const addr = await readAddress(path);
          if (addr === undefined) return { event, transport: 'tcp', state: 'not-a-socket', ...common };
          const state = await probeTcp(addr.host, addr.port, options.probeTimeoutMs);
          return { event, transport: 'tcp', address: `${addr.host}:${addr.port}`, state, ...common };
        }
        const state = st.isSocket() ? await probeSocket(path, options.probeTimeoutMs) : 'not-a-socket';
        return { event: name.slice(0, -'.sock'.length), transport: 'unix', state, ...common };
      }),
  );
  return entries.filter((e): e is LsEntry => e !== undefined);
}

/**
 * Removes stale sockets only: each candidate is probed again right before
 * the unlink, and must still be the same socket inode, so a server that
 * started meanwhile keeps its file. Returns the paths removed.
 */
export async function cleanSocketDir(entries: readonly LsEntry[], options: InspectOptions = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const e of entries) {
    // Only stale socket files: an address file stays after stop on purpose (a restart rebinds its port).
    if (e.state !== 'stale' || e.transport !== 'unix') continue;
    let before;
    try {
      before = await lstat(e.path);
    } catch {
      continue;
    }
    if (!before.isSocket()) continue;
    if ((await probeSocket(e.path, options.probeTimeoutMs)) !== 'stale') continue;
    const now = await lstat(e.path).catch(() => undefined);
    if (now === undefined || now.ino !== before.ino || now.dev !== before.dev) continue;
    await unlink(e.path);
    removed.push(e.path);
  }
  return removed;
}

/** The CLIENTS, QUEUE, IN/s and OUT/s cells of an entry: `-` when not live, the reason in CLIENTS when stats could not be read. */
function statsCells(e: LsEntry): string[] {
  if (e.stats !== undefined) {
    const s = e.stats;
    return [`${s.clients}/${s.maxConnections}`, String(s.queue), String(s.rates.messagesIn), String(s.rates.messagesOut)];
  }
  return [e.statsUnavailable ?? '-', '-', '-', '-'];
}

/** Renders entries as an aligned table (one header line, one line per event). */
export function formatLsTable(entries: readonly LsEntry[]): string {
  const rows = [
    ['EVENT', 'TRANSPORT', 'STATE', 'CLIENTS', 'QUEUE', 'IN/s', 'OUT/s', 'OWNER', 'MODE', 'PATH'],
    ...entries.map((e) => [
      e.event,
      e.address === undefined ? e.transport : `tcp ${e.address}`,
      e.insecure ? `${e.state} (insecure)` : e.state,
      ...statsCells(e),
      String(e.uid),
      e.mode,
      e.path,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

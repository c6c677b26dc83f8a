import { closeSync, constants, openSync, readFileSync, readdirSync, type Stats, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { basename, dirname, join } from 'node:path';
import {
  ConnectionError,
  ErrorCode,
  SocketError,
  fstatClean,
  lstatClean,
  openSocketDir,
  sameFile,
  type PinnedDir,
} from '@socketkit/unix';
import { safeText } from './output.js';

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
  | 'busy'
  /**
   * Not probed: an address file (or a directory) flagged insecure; `ls` does not connect where another user may listen.
   */
  | 'unchecked';

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
  /**
   * True when the file is writable by group or others, or owned by someone other than us or root, or the directory's
   * path cannot be trusted.
   */
  insecure: boolean;
  /** A live server's clients, queue and rates, read as a monitor (when it exposes stats to us). */
  stats?: LsStats;
  /**
   * Why a live server's stats could not be read: `stats off` (it does not expose them), `token needed`, `unauthorized`,
   * or an error code.
   */
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

/** Parses an address file's host and port (undefined when it is not a valid record). */
function parseAddress(text: string): { host: string; port: number } | undefined {
  try {
    const rec = JSON.parse(text) as { host?: unknown; port?: unknown };
    if (typeof rec.host !== 'string' || !Number.isInteger(rec.port)) return undefined;
    return { host: rec.host, port: rec.port as number };
  } catch {
    return undefined;
  }
}

/** True for a file others may have written or replaced: writable by group/others, or not owned by us or root. */
function untrusted(st: Stats, me: number): boolean {
  return (st.mode & 0o022) !== 0 || (st.uid !== me && st.uid !== 0);
}

/** Opens `dir` after checking its whole path; undefined (with why) when it cannot be trusted, or when it is missing. */
function openChecked(dir: string): { pinned?: PinnedDir; problem?: string; missing?: boolean } {
  try {
    return { pinned: openSocketDir(dir) };
  } catch (err) {
    if (err instanceof SocketError) return { problem: err.message };
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { missing: true };
    throw err;
  }
}

/**
 * Lists every `*.sock` socket file and `*.tcp` address file of `dir`, sorted
 * by file name. A missing directory lists nothing. The directory's whole
 * path is checked first and then used through the opened directory; in a
 * directory that cannot be trusted every entry is flagged insecure. An
 * address file is read from the descriptor whose owner and mode were
 * checked (never through a symlink), and one flagged insecure is never
 * connected to (state `unchecked`).
 */
export async function inspectSocketDir(dir: string, options: InspectOptions = {}): Promise<LsEntry[]> {
  const { pinned, problem, missing } = openChecked(dir);
  if (missing === true) return [];
  const at = (name: string): string => (pinned === undefined ? join(dir, name) : pinned.entry(name));
  try {
    let names: string[];
    try {
      names = readdirSync(pinned === undefined ? dir : pinned.entry(''));
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
          let st: Stats;
          try {
            st = lstatClean(at(name));
          } catch {
            return undefined; // removed while we looked
          }
          if (name.endsWith('.tcp')) {
            const event = name.slice(0, -'.tcp'.length);
            // Read what is checked: the open file, never through a symlink.
            let fd: number;
            try {
              fd = openSync(at(name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
            } catch {
              return {
                event,
                transport: 'tcp',
                path,
                state: 'not-a-socket',
                ...meta(st, problem !== undefined || untrusted(st, me)),
              };
            }
            let text: string | undefined;
            try {
              st = fstatClean(fd);
              if (st.isFile() && problem === undefined && !untrusted(st, me)) text = readFileSync(fd, 'utf8');
            } finally {
              closeSync(fd);
            }
            const insecure = problem !== undefined || untrusted(st, me);
            if (!st.isFile()) return { event, transport: 'tcp', path, state: 'not-a-socket', ...meta(st, insecure) };
            if (text === undefined) return { event, transport: 'tcp', path, state: 'unchecked', ...meta(st, insecure) };
            const addr = parseAddress(text);
            if (addr === undefined)
              return { event, transport: 'tcp', path, state: 'not-a-socket', ...meta(st, insecure) };
            const state = await probeTcp(addr.host, addr.port, options.probeTimeoutMs);
            return {
              event,
              transport: 'tcp',
              address: `${addr.host}:${addr.port}`,
              path,
              state,
              ...meta(st, insecure),
            };
          }
          const state = st.isSocket() ? await probeSocket(at(name), options.probeTimeoutMs) : 'not-a-socket';
          return {
            event: name.slice(0, -'.sock'.length),
            transport: 'unix',
            path,
            state,
            ...meta(st, problem !== undefined || untrusted(st, me)),
          };
        }),
    );
    return entries.filter((e): e is LsEntry => e !== undefined);
  } finally {
    pinned?.close();
  }
}

/** Owner, mode and the insecure flag of an entry. */
function meta(st: Stats, insecure: boolean): { uid: number; mode: string; insecure: boolean } {
  const mode = st.mode & 0o7777;
  return { uid: st.uid, mode: `0${mode.toString(8).padStart(3, '0')}`, insecure };
}

/**
 * Removes stale sockets only, in a directory whose whole path is checked
 * (every component owned by you or root, not writable by others unless
 * sticky, no symlink another user controls) and then used through the
 * directory it opened: each candidate is probed again right before the
 * unlink, and must still be the same socket inode, so a server that started
 * meanwhile keeps its file, and a path swapped meanwhile cannot redirect
 * the unlink. Returns the paths removed.
 * @throws ConnectionError `INSECURE_SOCKET_DIR` when a directory cannot be
 *   trusted (nothing is removed from it).
 */
export async function cleanSocketDir(entries: readonly LsEntry[], options: InspectOptions = {}): Promise<string[]> {
  const removed: string[] = [];
  // Only stale socket files: an address file stays after stop on purpose (a restart rebinds its port).
  const candidates = entries.filter((e) => e.state === 'stale' && e.transport === 'unix');
  for (const dir of new Set(candidates.map((e) => dirname(e.path)))) {
    let pinned: PinnedDir;
    try {
      pinned = openSocketDir(dir);
    } catch (err) {
      if (err instanceof SocketError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw new ConnectionError(
        ErrorCode.INSECURE_SOCKET_DIR,
        `cannot check the socket directory ${dir} (${code}): nothing removed from it`,
        {
          cause: err,
          details: { path: dir },
        },
      );
    }
    try {
      for (const e of candidates.filter((c) => dirname(c.path) === dir)) {
        const entry = pinned.entry(basename(e.path));
        let before: Stats;
        try {
          before = lstatClean(entry);
        } catch {
          continue;
        }
        if (!before.isSocket()) continue;
        if ((await probeSocket(entry, options.probeTimeoutMs)) !== 'stale') continue;
        let now: Stats | undefined;
        try {
          now = lstatClean(entry);
        } catch {
          now = undefined;
        }
        if (now === undefined || !sameFile(now, before)) continue;
        try {
          unlinkSync(entry);
          removed.push(e.path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    } finally {
      pinned.close();
    }
  }
  return removed;
}

/**
 * The CLIENTS, QUEUE, IN/s and OUT/s cells of an entry: `-` when not live, the reason in CLIENTS when stats could not
 * be read.
 */
function statsCells(e: LsEntry): string[] {
  if (e.stats !== undefined) {
    const s = e.stats;
    return [
      `${s.clients}/${s.maxConnections}`,
      String(s.queue),
      String(s.rates.messagesIn),
      String(s.rates.messagesOut),
    ];
  }
  return [e.statsUnavailable ?? '-', '-', '-', '-'];
}

/**
 * Renders entries as an aligned table (one header line, one line per event; every cell passed through {@link
 * safeText}).
 */
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
  // Each cell escaped on its own (names come from the directory: a line feed in one would start a forged row).
  for (const r of rows) for (let i = 0; i < r.length; i++) r[i] = safeText(r[i] as string);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

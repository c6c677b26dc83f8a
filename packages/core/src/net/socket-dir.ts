import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { optionRule as r, type OptionRulesFor } from '@socketkit/config';
import { ConnectionError, ErrorCode, ValidationError } from '@socketkit/protocol';

/**
 * node:fs/promises, loaded on first use (a server creating its directory, a client checking it may write there):
 * an import of a transport does not need it, and it loads node's file streams with it (issue 28: cold start).
 */
const fsp = () => process.getBuiltinModule('node:fs/promises');

/**
 * Who may own (and write) the socket directory and the files in it. Whoever
 * can write the directory can replace the socket (or a TCP address file) and
 * receive every client's data, so both the server and the client check it.
 */
export interface SocketDirTrust {
  /**
   * Skip every ownership and mode check (default false). Only for
   * directories no other user can write, e.g. inside a container.
   */
  allowInsecureDir?: boolean;
  /** Users besides yourself and root trusted to own the directory and the socket (e.g. the server's uid). */
  trustedUids?: readonly number[];
  /** Groups whose members may write the directory (a group-writable directory is refused otherwise). */
  trustedGids?: readonly number[];
}

const STICKY = 0o1000;

/**
 * `lstatSync` that leaves no socket or FIFO behind in Node's process-wide result of the last synchronous stat.
 * Node's `fs.realpathSync`, which `import` and `require` use, reads that result and stops following symlinks when it
 * names a socket or a FIFO (nodejs/node issue 51142): after a plain `lstatSync` of a socket file, the next package a
 * program loads through a symlinked `node_modules` (pnpm) resolves to the link's own path and its dependencies are
 * not found. Every synchronous stat that may meet a socket goes through this or {@link fstatClean}.
 */
export function lstatClean(path: string): Stats {
  return clean(lstatSync(path));
}

/** `fstatSync` for a descriptor that may be a socket or a FIFO (see {@link lstatClean}). */
export function fstatClean(fd: number): Stats {
  return clean(fstatSync(fd));
}

function clean(st: Stats): Stats {
  if (st.isSocket() || st.isFIFO()) lstatSync('/');
  return st;
}

function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

function trustedOwner(uid: number, self: number, trust: SocketDirTrust): boolean {
  return uid === self || uid === 0 || (trust.trustedUids ?? []).includes(uid);
}

/**
 * Why a directory cannot be trusted, or undefined when it can: its owner is
 * you, root or a trusted uid; it is group-writable only for a trusted gid;
 * it is other-writable only with the sticky bit (as `/tmp`: others may add
 * files but never rename or remove yours; the file's owner is checked too).
 */
export function dirTrustProblem(st: Stats, trust: SocketDirTrust = {}): string | undefined {
  const self = currentUid();
  if (self === undefined || trust.allowInsecureDir === true) return undefined;
  if (!trustedOwner(st.uid, self, trust)) return `owned by uid ${st.uid} (not you, uid ${self}, nor root)`;
  const sticky = (st.mode & STICKY) !== 0;
  if ((st.mode & 0o002) !== 0 && !sticky)
    return `writable by any user (mode ${(st.mode & 0o7777).toString(8)}, no sticky bit)`;
  if ((st.mode & 0o020) !== 0 && !sticky && !(trust.trustedGids ?? []).includes(st.gid)) {
    return `group-writable (mode ${(st.mode & 0o7777).toString(8)}, gid ${st.gid} is not in trustedGids)`;
  }
  return undefined;
}

/**
 * Why a file in the socket directory (a socket, or a TCP address file)
 * cannot be trusted: a symbolic link, an untrusted owner, or (with
 * `contentMatters`, for files that are read) writable by group/others.
 */
export function fileTrustProblem(st: Stats, trust: SocketDirTrust = {}, contentMatters = false): string | undefined {
  const self = currentUid();
  if (self === undefined || trust.allowInsecureDir === true) return undefined;
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (!trustedOwner(st.uid, self, trust)) return `owned by uid ${st.uid} (not you, uid ${self}, nor root)`;
  if (contentMatters && (st.mode & 0o022) !== 0)
    return `writable by group/others (mode ${(st.mode & 0o777).toString(8)})`;
  return undefined;
}

function insecure(what: string, path: string, why: string, st: Stats): ConnectionError {
  return new ConnectionError(
    ErrorCode.INSECURE_SOCKET_DIR,
    `${what} ${path} is ${why}: whoever controls it can impersonate the server; use a private ` +
      'socketDir (mode 0700), list a trusted owner in trustedUids/trustedGids, or set allowInsecureDir: true',
    { details: { path, uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 } },
  );
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * A typed error for a system error met while checking a server's socket
 * directory (it was changed under us, or is not a directory).
 */
function serverDirError(err: unknown, dir: string): Error {
  if (err instanceof ConnectionError || err instanceof ValidationError) return err;
  const code = errno(err);
  const opts = { cause: err, details: { path: dir, errno: code } };
  if (code === 'ENOTDIR')
    return new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `socketDir ${dir} is not a directory (${(err as Error).message}): choose a directory for socket files`,
      opts,
    );
  if (code === 'ELOOP')
    return new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `socketDir ${dir} has too many symbolic links: choose a plain directory`,
      opts,
    );
  if (code === 'EACCES' || code === 'EPERM') {
    return new ConnectionError(
      ErrorCode.PERMISSION_DENIED,
      `socket directory ${dir} cannot be checked by this user (${code}): choose another socketDir or fix its ` +
        `permissions`,
      opts,
    );
  }
  return new ConnectionError(
    ErrorCode.INSECURE_SOCKET_DIR,
    `socket directory ${dir} was removed or replaced while it was being checked (${code ?? (err as Error).message}): ` +
      'another process is changing it; use a private socketDir (mode 0700) whose path only you and root control',
    opts,
  );
}

/**
 * Server side: creates the socket directory (mode 0700) when missing and
 * checks it is a directory this user can write and that its whole path can
 * be trusted ({@link checkDirPath}).
 * @throws ValidationError `INVALID_CONFIG`, ConnectionError
 *   `PERMISSION_DENIED` / `INSECURE_SOCKET_DIR` (never a raw system error).
 */
export async function prepareSocketDir(dir: string, trust: SocketDirTrust = {}): Promise<void> {
  try {
    await fsp().mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `cannot create socket directory ${dir}: ${(err as Error).message}; choose a writable socketDir`,
      {
        cause: err,
        details: { path: dir },
      },
    );
  }
  let checked: CheckedDir;
  try {
    checked = checkDirPath(dir, trust);
  } catch (err) {
    throw serverDirError(err, dir);
  }
  try {
    await fsp().access(checked.realPath, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new ConnectionError(
      ErrorCode.PERMISSION_DENIED,
      `socket directory ${dir} is not writable by this user: choose another socketDir or fix its permissions`,
      { cause: err, details: { path: dir } },
    );
  }
}

/**
 * {@link openSocketDir} for a server that checked the directory with
 * {@link prepareSocketDir}: every failure is a typed error.
 */
export function openServerSocketDir(dir: string, trust: SocketDirTrust = {}): PinnedDir {
  try {
    return openSocketDir(dir, trust);
  } catch (err) {
    throw serverDirError(err, dir);
  }
}

/** Most symbolic links followed in one path (the kernel's limit too). */
const MAX_LINKS = 40;

/** What {@link checkDirPath} found: the directory's path without symbolic links, and its stats. */
export interface CheckedDir {
  /** The directory's path with every symbolic link resolved (each component checked). */
  realPath: string;
  /** lstat of the directory itself. */
  st: Stats;
}

function pathError(code: string, path: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: ${path}`) as NodeJS.ErrnoException;
  err.code = code;
  err.path = path;
  return err;
}

/**
 * Checks every component of `dir` from `/` down, as OpenSSH's StrictModes
 * does: each directory is owned by you, root or a trusted uid and writable
 * by others only with the sticky bit (by its group only for a trusted gid);
 * a symbolic link is followed only when it is owned by a trusted user (its
 * directory is checked already, so nobody else can replace it), and the
 * components of its target are checked the same way. After this, nobody but
 * trusted users can change what `dir` names.
 * @throws ConnectionError `INSECURE_SOCKET_DIR` naming the component; a
 *   system error (`ENOENT`, `ENOTDIR`, `ELOOP`, `EACCES`) when the path
 *   cannot be walked (callers map it).
 */
export function checkDirPath(dir: string, trust: SocketDirTrust = {}): CheckedDir {
  const abs = dir.startsWith('/') ? dir : `${process.cwd()}/${dir}`;
  const pending = abs.split('/').filter((c) => c !== '' && c !== '.');
  let cur = '/';
  let st = lstatSync('/');
  const checkDir = (path: string, s: Stats): void => {
    const why = dirTrustProblem(s, trust);
    if (why !== undefined)
      throw insecure(path === dir ? 'socket directory' : `socket directory ${dir}: its path component`, path, why, s);
  };
  checkDir('/', st);
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift() as string;
    if (name === '.') continue;
    if (name === '..') {
      cur = cur === '/' ? '/' : cur.slice(0, cur.lastIndexOf('/')) || '/';
      st = lstatClean(cur);
      continue;
    }
    const next = cur === '/' ? `/${name}` : `${cur}/${name}`;
    const s = lstatClean(next);
    if (s.isSymbolicLink()) {
      if (trust.allowInsecureDir !== true) {
        const self = currentUid();
        if (self !== undefined && !trustedOwner(s.uid, self, trust)) {
          throw insecure(
            `socket directory ${dir}: its path component`,
            next,
            `a symbolic link owned by uid ${s.uid} (not you, uid ${self}, nor root)`,
            s,
          );
        }
      }
      if (++links > MAX_LINKS) throw pathError('ELOOP', dir);
      const target = readlinkSync(next);
      if (target.startsWith('/')) {
        cur = '/';
        st = lstatSync('/');
      }
      pending.unshift(...target.split('/').filter((c) => c !== ''));
      continue;
    }
    if (!s.isDirectory()) throw pathError('ENOTDIR', next);
    checkDir(next, s);
    cur = next;
    st = s;
  }
  return { realPath: cur, st };
}

/**
 * True where `/proc/self/fd/<fd>/<name>` reaches a name inside an open
 * directory (Linux). A runtime that may not use `/proc/self` (Deno asks for
 * --allow-all, and throws) falls back to the checked path.
 */
let procFd: boolean | undefined;
function hasProcFd(): boolean {
  if (procFd === undefined) {
    try {
      procFd = process.platform === 'linux' && existsSync('/proc/self/fd');
    } catch {
      procFd = false;
    }
  }
  return procFd;
}

/**
 * A socket directory that was checked and then opened: operations on its
 * entries go through the open directory (`/proc/self/fd/<fd>/<name>` on
 * Linux), so they happen in the very directory that was checked even if its
 * path is changed meanwhile. Close it when done.
 */
export interface PinnedDir {
  /** The path as given. */
  readonly path: string;
  /** The checked path without symbolic links. */
  readonly realPath: string;
  /** fstat of the open directory. */
  readonly st: Stats;
  /** A path that reaches `name` inside this very directory. */
  entry(name: string): string;
  /** Releases the directory (idempotent). */
  close(): void;
}

/**
 * Checks the whole path of `dir` ({@link checkDirPath}; skipped with
 * `allowInsecureDir`), opens it without following a final symlink, and
 * checks that the open directory is the one checked.
 * @throws ConnectionError `INSECURE_SOCKET_DIR`; system errors as
 *   {@link checkDirPath} (e.g. `ENOENT` for a missing directory).
 */
export function openSocketDir(dir: string, trust: SocketDirTrust = {}): PinnedDir {
  const checked = checkDirPath(dir, trust);
  const flags = constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) | (constants.O_NOFOLLOW ?? 0);
  let fd: number;
  try {
    fd = openSync(checked.realPath, flags);
  } catch (err) {
    const code = errno(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EACCES' || code === 'EPERM') throw err;
    // A runtime that cannot open a directory (EISDIR, ...): the checked path itself, which only trusted users can
    // change.
    return {
      path: dir,
      realPath: checked.realPath,
      st: checked.st,
      entry: (name: string) => join(checked.realPath, name),
      close: () => undefined,
    };
  }
  let st: Stats;
  try {
    st = fstatClean(fd);
    if (st.dev !== checked.st.dev || st.ino !== checked.st.ino) {
      throw insecure('socket directory', dir, 'changed while it was being checked', st);
    }
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  const viaFd = hasProcFd();
  let open = true;
  return {
    path: dir,
    realPath: checked.realPath,
    st,
    entry: (name: string) => (viaFd ? `/proc/self/fd/${fd}/${name}` : join(checked.realPath, name)),
    close: () => {
      if (!open) return;
      open = false;
      closeSync(fd);
    },
  };
}

/** True when two stats are of the same file (device and inode): a checked entry that is still the one checked. */
export function sameFile(a: Stats, b: Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** `INSECURE_SOCKET_DIR` for `what` at `path` (a socket, an address file, a directory). */
export function insecureError(what: string, path: string, why: string, st: Stats): ConnectionError {
  return insecure(what, path, why, st);
}

/** Rules of {@link SocketDirTrust}: the trust options every transport with a socket directory takes (unix, tcp). */
export const SOCKET_DIR_TRUST_RULES: OptionRulesFor<SocketDirTrust> = Object.freeze({
  allowInsecureDir: r.boolean(),
  trustedUids: r.intList(),
  trustedGids: r.intList(),
});

/**
 * The {@link SocketDirTrust} part of a transport's options, with only the options that are set (a transport's
 * options object may carry them as `undefined`; an absent `allowInsecureDir` means false everywhere).
 */
export function socketDirTrust(o: SocketDirTrust): SocketDirTrust {
  return {
    ...(o.allowInsecureDir !== undefined ? { allowInsecureDir: o.allowInsecureDir } : {}),
    ...(o.trustedUids !== undefined ? { trustedUids: o.trustedUids } : {}),
    ...(o.trustedGids !== undefined ? { trustedGids: o.trustedGids } : {}),
  };
}

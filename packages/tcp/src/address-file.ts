import {
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import {
  fileTrustProblem,
  insecureError,
  openServerSocketDir,
  openSocketDir,
  prepareSocketDir,
  type PinnedDir,
  type SocketDirTrust,
} from '@socketkit/core/net';
import { ConnectionError, ErrorCode, SocketError, validateEventName } from '@socketkit/protocol';

/** node:crypto, loaded on first use (issue 28: start-up): only a server writing its address file needs it. */
const crypto = () => process.getBuiltinModule('node:crypto');

/** What a TCP server with an auto-picked port publishes for its event in `{socketDir}/{event}.tcp`. */
export interface TcpAddressRecord {
  event: string;
  host: string;
  port: number;
  /** Process id of the server that wrote it (the file stays after stop; `kill -0 pid` tells whether it still runs). */
  pid: number;
  tls: boolean;
  /** Epoch ms of the server's start. */
  started_ms: number;
}

/** Path of the address file of an event: `{socketDir}/{eventName}.tcp`. */
export function addressFilePath(socketDir: string, eventName: string): string {
  return join(socketDir, `${validateEventName(eventName)}.tcp`);
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function unreadable(path: string, eventName: string, err: unknown): ConnectionError {
  return new ConnectionError(
    ErrorCode.PERMISSION_DENIED,
    `cannot read the address file ${path} of event "${eventName}": ${(err as Error).message}; pass port explicitly`,
    { cause: err, details: { path } },
  );
}

/**
 * Reads the address file through the checked, opened socket directory: opened
 * without following a symlink, checked on the descriptor (a regular file,
 * trusted owner, not writable by group/others), read from that descriptor.
 * What is read is what was checked.
 */
function readPinned(dir: PinnedDir, path: string, eventName: string, trust: SocketDirTrust): string | undefined {
  let fd: number;
  try {
    fd = openSync(dir.entry(basename(path)), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined;
    if (errno(err) === 'ELOOP') {
      throw new ConnectionError(
        ErrorCode.INSECURE_SOCKET_DIR,
        `address file ${path} is a symbolic link: whoever controls it can impersonate the server; delete it and ` +
          `restart the server`,
        { cause: err, details: { path } },
      );
    }
    throw unreadable(path, eventName, err);
  }
  try {
    const st = fstatSync(fd);
    const why = st.isFile() ? fileTrustProblem(st, trust, true) : 'not a regular file';
    if (why !== undefined) throw insecureError('address file', path, why, st);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and checks an address file like a socket file: the whole path of the
 * directory is checked and the file is read through the opened directory,
 * from the very descriptor whose owner and mode were checked (trusted owner,
 * not a symlink, a regular file not writable by group/others).
 * @returns the record, or undefined when there is no file (or directory).
 * @throws ConnectionError `INSECURE_SOCKET_DIR`, `PERMISSION_DENIED`, or
 *   `SOCKET_NOT_FOUND` for a file that is not a valid record.
 */
export async function readAddressFile(
  socketDir: string,
  eventName: string,
  trust: SocketDirTrust = {},
): Promise<TcpAddressRecord | undefined> {
  const path = addressFilePath(socketDir, eventName);
  let text: string | undefined;
  if (trust.allowInsecureDir === true || process.getuid === undefined) {
    try {
      text = await process.getBuiltinModule('node:fs/promises').readFile(path, { encoding: 'utf8', flag: 'r' });
    } catch (err) {
      if (errno(err) === 'ENOENT') return undefined;
      throw unreadable(path, eventName, err);
    }
  } else {
    let dir: PinnedDir;
    try {
      dir = openSocketDir(socketDir, trust);
    } catch (err) {
      if (err instanceof SocketError) throw err;
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined;
      throw unreadable(socketDir, eventName, err);
    }
    try {
      text = readPinned(dir, path, eventName, trust);
    } finally {
      dir.close();
    }
    if (text === undefined) return undefined;
  }
  let rec: Partial<TcpAddressRecord> | undefined;
  try {
    rec = JSON.parse(text) as Partial<TcpAddressRecord>;
  } catch {
    rec = undefined;
  }
  if (
    rec === undefined ||
    rec === null ||
    rec.event !== eventName ||
    !Number.isInteger(rec.port) ||
    (rec.port as number) < 1 ||
    (rec.port as number) > 65535
  ) {
    throw new ConnectionError(
      ErrorCode.SOCKET_NOT_FOUND,
      `the address file ${path} is not a valid record for event "${eventName}": delete it and restart the server, or ` +
        `pass port explicitly`,
      { details: { path } },
    );
  }
  return rec as TcpAddressRecord;
}

/**
 * Publishes a server's address atomically (temporary file, mode 0600, then
 * rename), after checking the directory like a Unix socket directory, inside
 * the directory that was opened and checked.
 */
export async function writeAddressFile(
  socketDir: string,
  record: TcpAddressRecord,
  trust: SocketDirTrust = {},
): Promise<string> {
  await prepareSocketDir(socketDir, trust);
  const path = addressFilePath(socketDir, record.event);
  const dir = openServerSocketDir(socketDir, trust);
  const name = basename(path);
  const tmp = dir.entry(`${name}.${crypto().randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, `${JSON.stringify(record)}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, dir.entry(name));
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never written
    }
    throw err;
  } finally {
    dir.close();
  }
  return path;
}

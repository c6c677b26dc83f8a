import { randomBytes } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkSocketPath, prepareSocketDir, type SocketDirTrust } from '@socketkit/core';
import { ConnectionError, ErrorCode, validateEventName } from '@socketkit/protocol';

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

/**
 * Reads and checks an address file like a socket file (trusted directory,
 * trusted owner, not a symlink, not writable by group/others).
 * @returns the record, or undefined when there is no file.
 * @throws ConnectionError `INSECURE_SOCKET_DIR`, or `SOCKET_NOT_FOUND` for a file that is not a valid record.
 */
export async function readAddressFile(socketDir: string, eventName: string, trust: SocketDirTrust = {}): Promise<TcpAddressRecord | undefined> {
  const path = addressFilePath(socketDir, eventName);
  await checkSocketPath(socketDir, path, trust, true);
  let text: string;
  try {
    text = await readFile(path, { encoding: 'utf8', flag: 'r' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConnectionError(
      ErrorCode.PERMISSION_DENIED,
      `cannot read the address file ${path} of event "${eventName}": ${(err as Error).message}; pass port explicitly`,
      { cause: err, details: { path } },
    );
  }
  let rec: Partial<TcpAddressRecord> | undefined;
  try {
    rec = JSON.parse(text) as Partial<TcpAddressRecord>;
  } catch {
    rec = undefined;
  }
  if (rec === undefined || rec === null || rec.event !== eventName || !Number.isInteger(rec.port) || (rec.port as number) < 1 || (rec.port as number) > 65535) {
    throw new ConnectionError(
      ErrorCode.SOCKET_NOT_FOUND,
      `the address file ${path} is not a valid record for event "${eventName}": delete it and restart the server, or pass port explicitly`,
      { details: { path } },
    );
  }
  return rec as TcpAddressRecord;
}

/**
 * Publishes a server's address atomically (temporary file, mode 0600, then
 * rename), after checking the directory like a Unix socket directory.
 */
export async function writeAddressFile(socketDir: string, record: TcpAddressRecord, trust: SocketDirTrust = {}): Promise<string> {
  await prepareSocketDir(socketDir, trust);
  const path = addressFilePath(socketDir, record.event);
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(record)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return path;
}

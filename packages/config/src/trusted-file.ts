import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { ErrorCode, ValidationError } from '@socketkit/protocol';

/** Largest configuration, settings or token file read (bytes); a larger one is refused. */
export const MAX_TRUSTED_FILE_BYTES = 1024 * 1024;

/** What a trusted file is, for the error message: `env file`, `settings file`, `token file`, ... */
export type TrustedFileKind = string;

/** Options of {@link readTrustedFile}. */
export interface ReadTrustedFileOptions {
  /** Who named the file (`option`, `SOCKET_ENV_FILE`, `--token-file`, ...), shown in errors. */
  namedBy?: string;
  /** The uid the file must belong to (root is accepted too). Default: the process's uid. */
  uid?: number;
}

function refuse(
  kind: TrustedFileKind,
  path: string,
  namedBy: string,
  why: string,
  fix: string,
  details: Record<string, unknown>,
): ValidationError {
  return new ValidationError(ErrorCode.INVALID_CONFIG, `refusing to read ${kind} ${path}${namedBy}: ${why}: ${fix}`, {
    details: { path, kind, ...details },
  });
}

/**
 * Reads a file that decides how socketkit runs (a `.env` file, the settings
 * file, a token file) only if no other user could have written it: it is a
 * regular file, owned by the invoking user or by root, and neither group nor
 * others may write it (as OpenSSH's StrictModes checks its files). The check
 * is made on the opened descriptor and the text is read from that same
 * descriptor, so swapping the path between check and read changes nothing;
 * the file is opened non-blocking, so a FIFO planted in its place is refused
 * at once instead of hanging. On platforms without uids (Windows) only the
 * regular-file and size checks apply.
 *
 * @throws ValidationError `INVALID_CONFIG` naming the file, its owner or
 *   mode, and what to do (e.g. `chmod go-w FILE`); also when it cannot be
 *   read or is larger than {@link MAX_TRUSTED_FILE_BYTES}.
 */
export function readTrustedFile(path: string, kind: TrustedFileKind, options: ReadTrustedFileOptions = {}): string {
  const namedBy = options.namedBy === undefined ? '' : ` (named by ${options.namedBy})`;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0));
  } catch (cause) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `cannot read ${kind} ${path}${namedBy}: ${(cause as Error).message}`,
      {
        cause,
        details: { path, kind, namedBy: options.namedBy },
      },
    );
  }
  try {
    const st = fstatSync(fd);
    const mode = `0${(st.mode & 0o7777).toString(8).padStart(3, '0')}`;
    if (!st.isFile()) throw refuse(kind, path, namedBy, 'it is not a regular file', 'name a regular file', { mode });
    const uid = options.uid ?? process.getuid?.();
    if (uid !== undefined) {
      if (st.uid !== uid && st.uid !== 0) {
        throw refuse(
          kind,
          path,
          namedBy,
          `it is owned by uid ${st.uid}, not by you (uid ${uid}) or root, so another user may have written it`,
          `check its contents, then take it over (chown ${uid} ${path}) or remove it`,
          { owner: st.uid, uid, mode },
        );
      }
      if ((st.mode & 0o022) !== 0) {
        throw refuse(
          kind,
          path,
          namedBy,
          `group or others can write it (mode ${mode}), so another user may have changed it`,
          `check its contents, then chmod go-w ${path}`,
          { owner: st.uid, uid, mode },
        );
      }
    }
    if (st.size > MAX_TRUSTED_FILE_BYTES) {
      throw refuse(
        kind,
        path,
        namedBy,
        `it has ${st.size} bytes, more than ${MAX_TRUSTED_FILE_BYTES}`,
        'name a smaller file',
        { size: st.size },
      );
    }
    // The file may grow after fstat: read to its end in chunks, never past the bound.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(Math.max(st.size, 4096), MAX_TRUSTED_FILE_BYTES + 1));
      const got = readSync(fd, chunk, 0, chunk.length, null);
      if (got === 0) break;
      chunks.push(chunk.subarray(0, got));
      total += got;
      if (total > MAX_TRUSTED_FILE_BYTES) {
        throw refuse(
          kind,
          path,
          namedBy,
          `it has more than ${MAX_TRUSTED_FILE_BYTES} bytes`,
          'name a smaller file',
          {},
        );
      }
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `cannot read ${kind} ${path}${namedBy}: ${(err as Error).message}`,
      {
        cause: err,
        details: { path, kind, namedBy: options.namedBy },
      },
    );
  } finally {
    closeSync(fd);
  }
}

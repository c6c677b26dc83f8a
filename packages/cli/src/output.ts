import { format } from 'node:util';
import { once } from 'node:events';
import { SocketError, toWireMessage, type LogLevel, type SocketLogger, type SocketMessage } from 'socketkit';

const RANK: Record<LogLevel, number> = { silly: 0, trace: 1, debug: 2, info: 3, warn: 4, error: 5, fatal: 6, silent: 7 };

/** A logger for the library that writes to stderr (stdout is kept for messages). */
export function stderrLogger(level: LogLevel): SocketLogger {
  const at =
    (name: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]): void => {
      if (RANK[name] >= RANK[level]) process.stderr.write(`[socketkit ${name}] ${format(...args)}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A status line on stderr. */
export function status(text: string): void {
  process.stderr.write(`${text}\n`);
}

function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}

/** One message as one JSON line in the wire shape (snake_case keys). */
export function messageLine(message: SocketMessage): string {
  return JSON.stringify(toWireMessage(message), jsonValue);
}

/** Writes one message line to stdout; resolves once stdout can take more (back-pressure). */
export async function printMessage(message: SocketMessage): Promise<void> {
  if (!process.stdout.write(`${messageLine(message)}\n`)) await once(process.stdout, 'drain');
}

/** The code shown in `error <CODE>: ...` for any error. */
export function errorCode(err: unknown): string {
  if (err instanceof SocketError) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNEXPECTED';
}

/** `error <CODE>: <message>`. */
export function errorLine(err: unknown): string {
  return `error ${errorCode(err)}: ${err instanceof Error ? err.message : String(err)}`;
}

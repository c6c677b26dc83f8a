import { format } from 'node:util';
import { once } from 'node:events';
import { LOG_LEVELS, SocketError, toWireMessage, type LogLevel, type SocketLogger, type SocketMessage } from 'socketkit';

/** A logger for the library that writes to stderr (stdout is kept for messages). */
export function stderrLogger(level: LogLevel): SocketLogger {
  // LOG_LEVELS is ordered from silly to silent: a line is written when its level is at or above `level`.
  const min = LOG_LEVELS.indexOf(level);
  const at =
    (name: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]): void => {
      if (LOG_LEVELS.indexOf(name) >= min) process.stderr.write(`[socketkit ${name}] ${format(...args)}\n`);
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

/** Deepest nesting printed; deeper values are replaced by a marker (JSON.stringify recurses, a peer can nest 100,000 deep). */
export const MAX_PRINT_DEPTH = 64;
/** What replaces a value nested deeper than {@link MAX_PRINT_DEPTH}. */
export const TOO_DEEP = '[nested too deep to print]';

function cutDepth(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_PRINT_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) return value.map((v) => cutDepth(v, depth + 1));
  if (ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = cutDepth(v, depth + 1);
  return out;
}

/**
 * One message as one JSON line in the wire shape (snake_case keys). Never
 * throws: values nested deeper than {@link MAX_PRINT_DEPTH} are cut, and
 * anything JSON cannot print becomes a line that says so.
 */
export function messageLine(message: SocketMessage): string {
  const wire = toWireMessage(message);
  try {
    return JSON.stringify({ ...wire, data: cutDepth(wire.data, 1) }, jsonValue);
  } catch (err) {
    return JSON.stringify({
      event_name: wire.event_name,
      message_type: wire.message_type,
      data: { unprintable: (err as Error).message },
    });
  }
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

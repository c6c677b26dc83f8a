import { format } from 'node:util';
import { once } from 'node:events';
import {
  LOG_LEVELS,
  SocketError,
  toWireMessage,
  type LogLevel,
  type SocketLogger,
  type SocketMessage,
} from 'socketkit';

/**
 * Characters a terminal may act on instead of showing: C0 controls (ESC,
 * BEL, BS, CR, ...), DEL, C1 controls (U+0080–U+009F, CSI and OSC among
 * them), the line and paragraph separators and the bidirectional overrides
 * and isolates (which reorder what follows on the line).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same set less C0 (which `JSON.stringify` escapes already). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** Options of {@link safeText}. */
export interface SafeTextOptions {
  /** Keep line feeds (text of several lines that the CLI composed itself); default: escape them too. */
  newlines?: boolean;
}

/**
 * Text from a peer, a server or the file system, made safe to print in a
 * terminal: every control character (C0 but line feeds when
 * `options.newlines`, DEL, C1), the line separators and the bidi overrides
 * are shown as an escape (`\x1b`, `\t`, `\u{202e}`) instead of being
 * written, so a hostile string can neither move the cursor, set the window
 * title or the clipboard (OSC), hide text, nor forge a line of output.
 * Printable text, backslashes included, is unchanged.
 */
export function safeText(text: string, options: SafeTextOptions = {}): string {
  return text.replace(UNSAFE_TEXT, (c) => {
    if (c === '\n' && options.newlines === true) return c;
    const named = NAMED[c];
    if (named !== undefined) return named;
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}

/**
 * `JSON.stringify` for output a terminal shows: C1 controls, DEL, U+2028/9
 * and the bidi overrides, which JSON leaves raw, are written as `\uXXXX`
 * escapes too (the value parses back unchanged). Returns `'null'` for a
 * value JSON cannot show (`undefined`, a function).
 */
export function safeJson(value: unknown, replacer?: (this: unknown, key: string, value: unknown) => unknown): string {
  const text = JSON.stringify(value, replacer) as string | undefined;
  if (text === undefined) return 'null';
  return text.replace(UNSAFE_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A logger for the library that writes to stderr (stdout is kept for
 * messages), one line per record: what it logs may quote a peer, so the
 * line is passed through {@link safeText}.
 */
export function stderrLogger(level: LogLevel): SocketLogger {
  // LOG_LEVELS is ordered from silly to silent: a line is written when its level is at or above `level`.
  const min = LOG_LEVELS.indexOf(level);
  const at =
    (name: 'debug' | 'info' | 'warn' | 'error') =>
    (...args: unknown[]): void => {
      if (LOG_LEVELS.indexOf(name) >= min) process.stderr.write(`[socketkit ${name}] ${safeText(format(...args))}\n`);
    };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** A status line on stderr, made safe to show ({@link safeText}: one line, no control characters). */
export function status(text: string): void {
  process.stderr.write(`${safeText(text)}\n`);
}

function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  return value;
}

/**
 * Deepest nesting printed; deeper values are replaced by a marker (JSON.stringify recurses, a peer can nest 100,000
 * deep).
 */
export const MAX_PRINT_DEPTH = 64;
/** What replaces a value nested deeper than {@link MAX_PRINT_DEPTH}. */
export const TOO_DEEP = '[nested too deep to print]';

function cutDepth(value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_PRINT_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) return value.map((v) => cutDepth(v, depth + 1));
  if (ArrayBuffer.isView(value)) return value;
  const out: Record<string, unknown> = {};
  // defineProperty, not assignment: a key "__proto__" stays a key (assigning it would set the prototype and lose it).
  for (const [k, v] of Object.entries(value))
    Object.defineProperty(out, k, {
      value: cutDepth(v, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  return out;
}

/**
 * One message as one JSON line in the wire shape (snake_case keys), safe to
 * show in a terminal ({@link safeJson}). Never throws: values nested deeper
 * than {@link MAX_PRINT_DEPTH} are cut, and anything JSON cannot print
 * becomes a line that says so. Every key is printed, `__proto__` included.
 */
export function messageLine(message: SocketMessage): string {
  const wire = toWireMessage(message);
  try {
    return safeJson({ ...wire, data: cutDepth(wire.data, 1) }, jsonValue);
  } catch (err) {
    return safeJson({
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

/** `error <CODE>: <message>`, one line safe to show ({@link safeText}): the message may quote a peer. */
export function errorLine(err: unknown): string {
  return safeText(`error ${errorCode(err)}: ${cliHints(err instanceof Error ? err.message : String(err))}`);
}

/**
 * The library's hints name its options; on the command line they are flags:
 * a token is passed with `--token-file`, the handshake turned off with
 * `--no-handshake`.
 */
export function cliHints(text: string): string {
  return text
    .replace(
      "pass the server's token in the client options",
      "pass the server's token with --token-file FILE (its first line; a file only you can write)",
    )
    .replace(
      'Use handshake: false for servers without the handshake',
      'use --no-handshake for servers without the handshake',
    )
    .replace('and that both sides use the same token', 'and that both sides use the same token (--token-file FILE)');
}

import { Logger } from 'tslog';

/** The logging surface socketkit uses. A tslog `Logger` satisfies it; so does `console`. */
export interface SocketLogger {
  debug(...args: unknown[]): unknown;
  info(...args: unknown[]): unknown;
  warn(...args: unknown[]): unknown;
  error(...args: unknown[]): unknown;
}

const LEVELS: Record<string, number> = { silly: 0, trace: 1, debug: 2, info: 3, warn: 4, error: 5, fatal: 6, silent: 7 };

/**
 * Creates the default tslog logger for a socketkit component.
 * @param name Shown in every line, e.g. `socketkit:server:orders`.
 * @param level One of `silly`..`fatal`, or `silent` for none.
 */
export function createLogger(name: string, level = 'info'): SocketLogger {
  if (level === 'silent') return silentLogger;
  return new Logger({ name, minLevel: LEVELS[level] ?? LEVELS.info, type: 'pretty' });
}

const noop = (): undefined => undefined;

/** A logger that discards everything (`logLevel: 'silent'`). */
export const silentLogger: SocketLogger = { debug: noop, info: noop, warn: noop, error: noop };

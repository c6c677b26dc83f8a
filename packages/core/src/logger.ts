import { Logger } from 'tslog';

/** The logging surface socketkit uses. A tslog `Logger` satisfies it; so does `console`. */
export interface SocketLogger {
  debug(...args: unknown[]): unknown;
  info(...args: unknown[]): unknown;
  warn(...args: unknown[]): unknown;
  error(...args: unknown[]): unknown;
}

const LEVELS: Record<string, number> = {
  silly: 0,
  trace: 1,
  debug: 2,
  info: 3,
  warn: 4,
  error: 5,
  fatal: 6,
  silent: 7,
};

/** The level a socketkit component logs at when the application says nothing: warnings and errors only. */
export const DEFAULT_LOG_LEVEL = 'warn';

// A library must never write to the application's stdout: every level goes to stderr.
const toStderr = (...args: unknown[]): void => console.error(...args);

/**
 * Creates the default tslog logger for a socketkit component: lines on
 * stderr, no calling-code position (it would name source files that are not
 * shipped), UTC timestamps.
 * @param name Shown in every line, e.g. `socketkit:server:orders`.
 * @param level One of `silly`..`fatal`, or `silent` for none (default `warn`).
 */
export function createLogger(name: string, level: string = DEFAULT_LOG_LEVEL): SocketLogger {
  if (level === 'silent') return silentLogger;
  return new Logger({
    name,
    minLevel: LEVELS[level] ?? LEVELS[DEFAULT_LOG_LEVEL],
    type: 'pretty',
    stack: { capture: 'off' },
    pretty: {
      template: '{{yyyy}}-{{mm}}-{{dd}}T{{hh}}:{{MM}}:{{ss}}.{{ms}}Z\t{{logLevelName}}\t{{name}}\t',
      levelMethod: { '*': toStderr },
    },
  });
}

const noop = (): undefined => undefined;

/** A logger that discards everything (`logLevel: 'silent'`). */
export const silentLogger: SocketLogger = { debug: noop, info: noop, warn: noop, error: noop };

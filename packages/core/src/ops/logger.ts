import { LOG_LEVELS } from '@socketkit/config';
import { Logger } from 'tslog';

/** The logging surface socketkit uses. A tslog `Logger` satisfies it; so does `console`. */
export interface SocketLogger {
  debug(...args: unknown[]): unknown;
  info(...args: unknown[]): unknown;
  warn(...args: unknown[]): unknown;
  error(...args: unknown[]): unknown;
}

/** tslog's minLevel of a level name: its place in the one ordered list, LOG_LEVELS (silly 0 .. fatal 6, silent 7). */
function minLevel(level: string): number {
  const rank = (LOG_LEVELS as readonly string[]).indexOf(level);
  return rank >= 0 ? rank : LOG_LEVELS.indexOf(DEFAULT_LOG_LEVEL);
}

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
    minLevel: minLevel(level),
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

import { createRequire } from 'node:module';
import { LOG_LEVELS } from '@socketkit/config';
import type { Logger } from 'tslog';

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

type TslogModule = typeof import('tslog');
type LevelMethod = 'debug' | 'info' | 'warn' | 'error';

/**
 * tslog, loaded when a logger first has a line to write: most programs never log at `warn` or above, and the module
 * graph of tslog is the largest a socketkit import would otherwise load. Node loads it synchronously (`require` of an
 * ES module); where that is refused (a test runner's own module loader), it is imported and the lines wait for it.
 */
let tslog: TslogModule | undefined;
let tslogLoading: Promise<TslogModule> | undefined;
function loadTslog(): TslogModule | undefined {
  if (tslog !== undefined || tslogLoading !== undefined) return tslog;
  try {
    tslog = createRequire(import.meta.url)('tslog') as TslogModule;
  } catch {
    tslogLoading = import('tslog').then((mod) => {
      tslog = mod;
      return mod;
    });
  }
  return tslog;
}

const LEVEL_RANK: Record<LevelMethod, number> = { debug: 2, info: 3, warn: 4, error: 5 };

/**
 * Creates the default tslog logger for a socketkit component: lines on
 * stderr, no calling-code position (it would name source files that are not
 * shipped), UTC timestamps. tslog itself is loaded on the first line at or
 * above `level`; calls below it cost a comparison.
 * @param name Shown in every line, e.g. `socketkit:server:orders`.
 * @param level One of `silly`..`fatal`, or `silent` for none (default `warn`).
 */
export function createLogger(name: string, level: string = DEFAULT_LOG_LEVEL): SocketLogger {
  if (level === 'silent') return silentLogger;
  const min = minLevel(level);
  let logger: Logger<unknown> | undefined;
  let pending: Array<[LevelMethod, unknown[]]> | undefined;
  const make = (mod: TslogModule): Logger<unknown> =>
    new mod.Logger({
      name,
      minLevel: min,
      type: 'pretty',
      stack: { capture: 'off' },
      pretty: {
        template: '{{yyyy}}-{{mm}}-{{dd}}T{{hh}}:{{MM}}:{{ss}}.{{ms}}Z\t{{logLevelName}}\t{{name}}\t',
        levelMethod: { '*': toStderr },
      },
    });
  const emit = (method: LevelMethod, args: unknown[]): void => {
    if (LEVEL_RANK[method] < min) return;
    if (logger === undefined) {
      const mod = loadTslog();
      if (mod === undefined) {
        // Lines wait, in order, for the import started by loadTslog.
        if (pending === undefined) {
          pending = [];
          void (tslogLoading as Promise<TslogModule>).then((loaded) => {
            logger ??= make(loaded);
            const lines = pending ?? [];
            pending = undefined;
            for (const [m, a] of lines) (logger as unknown as SocketLogger)[m](...a);
          });
        }
        pending.push([method, args]);
        return;
      }
      logger = make(mod);
    }
    if (pending !== undefined) pending.push([method, args]);
    else (logger as unknown as SocketLogger)[method](...args);
  };
  return {
    debug: (...args) => emit('debug', args),
    info: (...args) => emit('info', args),
    warn: (...args) => emit('warn', args),
    error: (...args) => emit('error', args),
  };
}

const noop = (): undefined => undefined;

/** A logger that discards everything (`logLevel: 'silent'`). */
export const silentLogger: SocketLogger = { debug: noop, info: noop, warn: noop, error: noop };

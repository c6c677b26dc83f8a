/**
 * How a client reaches its server: one dial under the connect timeout,
 * `connect({ waitForServer })` dialling until the server is there, and the
 * reconnect rule: what a lost connection counts as (the pacing of the next
 * attempt, the `reconnect.maxRetries` bound and `RECONNECT_FAILED`), with one
 * "lost" and one "back" warning per outage. The reconnect loop itself is the
 * client's `reconnecting` state (client.ts), which asks {@link Outage}.
 * @packageDocumentation
 */
import { ConnectionError, ErrorCode, SocketError, TimeoutError, errorFromCode } from '@socketkit/protocol';
import { abortableDelay } from '../settings.js';
import type { TransportStream } from '../transport.js';
import { backoffDelay } from './backoff.js';
import type { ClientContext, ResolvedClientOptions } from './options.js';
import type { Reconnecting } from './state.js';
import type { Session } from './session.js';

/** The dial errors that mean "the server is not there (yet)": connect({ waitForServer }) retries these. */
const SERVER_MISSING: ReadonlySet<string> = new Set([ErrorCode.SOCKET_NOT_FOUND, ErrorCode.SERVER_NOT_RUNNING]);

/** Where a client dials, and whom it tells. */
export type DialTarget = Pick<ClientContext, 'eventName' | 'transport' | 'log'>;

/** Opens one stream; a stream that arrives after an abort (timeout, disconnect) is destroyed, never adopted. */
export async function dial(target: DialTarget, timeoutMs: number, abort: AbortController): Promise<TransportStream> {
  const signal = abort.signal;
  const timer =
    timeoutMs === Number.POSITIVE_INFINITY
      ? undefined
      : setTimeout(
          () =>
            abort.abort(
              new TimeoutError(
                `connecting to "${target.eventName}" at ${target.transport.address()} timed out after ` +
                  `${timeoutMs} ms: is the server overloaded or the address wrong?`,
                { details: { timeout: timeoutMs } },
              ),
            ),
          timeoutMs,
        );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  const dialing = target.transport.connect(signal);
  dialing.then(
    (stream) => {
      if (!signal.aborted) return;
      stream.on('error', () => undefined);
      stream.destroy();
    },
    () => undefined,
  );
  try {
    const stream = await Promise.race([dialing, aborted]);
    if (signal.aborted) throw signal.reason; // the handler above destroys it
    return stream;
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * connect({ waitForServer }): dials until the server is there, pacing the
 * attempts with the reconnect backoff (at most 1 s apart), for at most
 * `waitMs` (and the connect timeout). Only a missing server
 * (`SOCKET_NOT_FOUND`, `SERVER_NOT_RUNNING`) is waited for; any other error
 * rejects at once. `retrying` hears of each wait (the client's 'reconnecting').
 * Without a wait (`waitMs` 0), one {@link dial}.
 */
export async function dialUntilServer(
  target: DialTarget,
  timeout: number,
  waitMs: number,
  reconnect: ResolvedClientOptions['reconnect'],
  abort: AbortController,
  retrying: (attempt: number, delayMs: number) => void,
): Promise<TransportStream> {
  if (waitMs <= 0) return dial(target, timeout, abort);
  const started = Date.now();
  const deadline = waitMs === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : started + waitMs;
  const gaveUp = (err: SocketError, attempts: number): SocketError =>
    errorFromCode(
      err.code,
      `no server for "${target.eventName}" at ${target.transport.address()} after waiting ${Date.now() - started} ms ` +
        `(connect({ waitForServer }), ${attempts} attempts): ${err.message}`,
      { cause: err, details: { ...err.details, waitedMs: Date.now() - started, attempts } },
    );
  // Each attempt may use what is left of the connect timeout: the wait only
  // decides whether to dial again, so a slow dial (a NATS stream open under
  // load) near the end of a short wait is answered, not cut into a TIMEOUT.
  const connectDeadline = timeout === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : started + timeout;
  const backoff = { ...reconnect, maxDelay: Math.min(reconnect.maxDelay, 1000) };
  for (let attempt = 1; ; attempt++) {
    const left = connectDeadline - Date.now();
    let missing: SocketError;
    try {
      return await dial(target, left === Number.POSITIVE_INFINITY ? timeout : Math.max(1, Math.round(left)), abort);
    } catch (err) {
      if (abort.signal.aborted || !(err instanceof SocketError) || !SERVER_MISSING.has(err.code)) throw err;
      missing = err;
    }
    // The last attempt is made at the deadline, never skipped because the next delay would cross it.
    const delay = Math.min(backoffDelay(attempt, backoff), deadline - Date.now());
    if (delay <= 0) throw gaveUp(missing, attempt);
    if (attempt === 1) {
      target.log.info(
        `waiting for the server of "${target.eventName}" at ${target.transport.address()} (${missing.code}): ` +
          'retrying with backoff',
      );
    }
    retrying(attempt, delay);
    await abortableDelay(delay, abort.signal);
  }
}

/** What {@link scheduleRedial} tells the client. */
export interface RedialHooks {
  /** True while the client is still in the reconnecting state the redial belongs to. */
  current(): boolean;
  /** The dial succeeded (the client opens a session on `stream`). */
  opened(stream: TransportStream): void;
  /** The dial failed (the client counts the attempt and schedules the next, or gives up). */
  failed(): void;
}

/**
 * One round of the reconnect loop: after the backoff delay of
 * `state.attempt`, dials under the connect timeout. `state` holds the timer
 * and the dial's AbortController, so closing the client cancels both; a
 * stream that comes when the client moved on is destroyed.
 * @returns the delay (ms).
 */
export function scheduleRedial(ctx: ClientContext, state: Reconnecting, hooks: RedialHooks): number {
  const target = ctx;
  const o = ctx.options;
  const delay = backoffDelay(state.attempt, o.reconnect);
  state.timer = setTimeout(async () => {
    state.timer = undefined;
    const abort = new AbortController();
    state.abort = abort;
    try {
      const stream = await dial(target, o.connectTimeout, abort);
      if (!hooks.current()) {
        stream.destroy();
        return;
      }
      hooks.opened(stream);
    } catch (err) {
      if (!hooks.current()) return;
      target.log.debug(`reconnect attempt ${state.attempt} failed: ${(err as Error).message}`);
      hooks.failed();
    }
  }, delay);
  return delay;
}

/** What a lost connection means for the next attempt (see {@link Outage.lost}). */
export interface NextAttempt {
  /** Paces the backoff: 1 after a stable connection, else one more than the lost one's. */
  readonly attempt: number;
  /** Counts towards `reconnect.maxRetries`: 1 when the server had answered, else one more. */
  readonly tries: number;
  /** The outage's one `CONNECTION_LOST` notice (logged already), when this loss starts an outage. */
  readonly notice: ConnectionError | undefined;
}

/**
 * The reconnect rule of one client: when it has lost its server (an outage:
 * one warning when it starts, one when the server is back), how the next
 * attempt is paced and counted, and when it gives up.
 */
export class Outage {
  readonly #target: ClientContext;
  readonly #o: Pick<ResolvedClientOptions, 'reconnect' | 'minUptimeMs'>;
  /** When the server was lost, and why (undefined: no outage). */
  #lost: { at: number; reason: string } | undefined;

  constructor(ctx: ClientContext) {
    this.#target = ctx;
    this.#o = ctx.options;
  }

  /**
   * `session` was lost (`reason`) and the client reconnects. Lost means the
   * client had the server: a connection refused or dropped before it answered
   * is a failed attempt.
   */
  lost(session: Session, reason: string): NextAttempt {
    const stable = !session.refused && (session.delivered || Date.now() - session.openedAt >= this.#o.minUptimeMs);
    // The server answered on this connection (welcome, or a foreign first frame; without the handshake: it stayed up).
    const hs = session.handshake;
    const answered = !session.refused && (hs === 'done' || hs === 'foreign' || (hs === 'none' && stable));
    let notice: ConnectionError | undefined;
    if (this.#lost === undefined && answered) {
      // One warning per outage, and an 'error' event for who listens; never silent.
      this.#lost = { at: Date.now(), reason };
      const { eventName } = this.#target;
      const address = this.#target.transport.address();
      const r = this.#o.reconnect;
      const bound = r.maxRetries === Number.POSITIVE_INFINITY ? 'no limit' : `at most ${r.maxRetries} attempts`;
      notice = new ConnectionError(
        ErrorCode.CONNECTION_LOST,
        `lost the server of "${eventName}" at ${address} (${reason}): reconnecting ` +
          `(backoff ${r.initialDelay} ms ×${r.multiplier} up to ${r.maxDelay} ms, ${bound})`,
        { details: { eventName, address, reason } },
      );
      this.#target.log.warn(notice.message);
    }
    return { attempt: stable ? 1 : session.attempt + 1, tries: answered ? 1 : session.tries + 1, notice };
  }

  /** The error to close with once `tries` passed `reconnect.maxRetries` (`RECONNECT_FAILED`), else undefined. */
  gaveUp(tries: number): ConnectionError | undefined {
    const max = this.#o.reconnect.maxRetries;
    if (tries <= max) return undefined;
    const { eventName } = this.#target;
    const address = this.#target.transport.address();
    const lost = this.#lost;
    const since = lost === undefined ? '' : ` (${Date.now() - lost.at} ms since it was lost: ${lost.reason})`;
    return new ConnectionError(
      ErrorCode.RECONNECT_FAILED,
      `gave up reconnecting to "${eventName}" at ${address} after ${max} attempts${since}: ` +
        'start the server and connect() again, or raise reconnect.maxRetries (Infinity: never give up)',
      { details: { eventName, address, attempts: max } },
    );
  }

  /** The server answers again after an outage (`tries` attempts): the one "back" warning. */
  recovered(tries: number): void {
    const lost = this.#lost;
    if (lost === undefined) return;
    this.#lost = undefined;
    this.#target.log.warn(
      `the server of "${this.#target.eventName}" at ${this.#target.transport.address()} is back: ` +
        `reconnected after ${tries} attempt(s), ${Date.now() - lost.at} ms`,
    );
  }

  /** No outage any more (the client closed). */
  clear(): void {
    this.#lost = undefined;
  }
}

/** `CONNECTION_LOST`: the connection to the server was lost (`reason`), and `then` what it means. */
export function lostError(target: DialTarget, reason: string, then: string): ConnectionError {
  return new ConnectionError(
    ErrorCode.CONNECTION_LOST,
    `lost the connection to "${target.eventName}" at ${target.transport.address()} (${reason}) ${then}`,
  );
}

/** `CLOSED`: the client was closed (`reason`) while a dial was under way (the dial's abort reason). */
export function closedWhileConnecting(target: DialTarget, reason: SocketError): ConnectionError {
  return new ConnectionError(
    ErrorCode.CLOSED,
    `client for "${target.eventName}" was closed while connecting to ${target.transport.address()}: ${reason.message}`,
  );
}

/** A failed dial as the reason the client closes: a SocketError as it is, anything else as `CONNECTION_LOST`. */
export function asSocketError(err: unknown): SocketError {
  if (err instanceof SocketError) return err;
  return new ConnectionError(ErrorCode.CONNECTION_LOST, (err as Error).message, { cause: err });
}

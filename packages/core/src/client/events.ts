/**
 * The public types of `SocketClient` that are not the class itself
 * (its events, the options of a request, the names of its states), and how
 * it calls application code.
 * @packageDocumentation
 */
import type { EventEmitter } from 'node:events';
import type { MessageData, SocketMessage } from '@socketkit/protocol';
import type { StandardSchemaV1 } from '../wire/schema.js';
import type { WelcomeInfo } from './session.js';

/** Events of `SocketClient`; `T` is the type of `data` of the messages it receives. */
export interface SocketClientEvents<T = MessageData> {
  connected: [];
  /**
   * The connection ended; with autoReconnect the client also logs one warning
   * per outage ("lost the server ...") and one when it is back.
   */
  disconnected: [reason: string];
  /**
   * A reconnect attempt is scheduled (also while `connect({ waitForServer })`
   * waits for a server that is not there yet).
   */
  reconnecting: [attempt: number, delayMs: number];
  welcome: [info: WelcomeInfo];
  message: [message: SocketMessage<T>];
  /**
   * Buffered copies dropped so far because the receive buffer was full while
   * 'message' listeners (which saw them) exist.
   */
  bufferOverflow: [droppedTotal: number];
  /**
   * A problem that did not end the client: a skipped invalid message from
   * the server (`INVALID_MESSAGE`, each one, also counted in
   * `invalidMessages`), a server that is full or busy admitting (retried
   * with backoff), the server lost (`CONNECTION_LOST`, once per outage,
   * while reconnecting), ... and, last, a fatal refusal or giving up
   * (`RECONNECT_FAILED`). Without a listener these
   * are logged as warnings, rate-limited (one line per code per second).
   */
  error: [error: Error];
  close: [];
}

/** Options of {@link SocketClient.request}. */
export interface RequestOptions<TRes = MessageData> {
  /** Reply timeout in ms (default `defaultTimeoutMs`); `Infinity` for none. */
  timeout?: number;
  /**
   * Checks (and types) the reply's data: any Standard Schema (valibot, zod,
   * arktype). A reply it refuses rejects the request with MessageError
   * `INVALID_MESSAGE`; its output (after transforms) is the reply's `data`.
   */
  schema?: StandardSchemaV1<unknown, TRes>;
}

/** Name of a `SocketClient` state. */
export type ClientStateName = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * Runs `fn`; an exception it throws is the application's: rethrown on the
 * next tick, never taken for a peer's fault.
 */
export function callApp(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    rethrowLater(err);
  }
}

/** Rethrows an application's exception on the next tick (an `uncaughtException`, as EventEmitter users expect). */
export function rethrowLater(err: unknown): void {
  process.nextTick(() => {
    throw err;
  });
}

/** Resolves at the next of `events` on `emitter` (its listeners are removed then). */
export function whenAny(emitter: Pick<EventEmitter, 'on' | 'off'>, events: readonly string[]): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      for (const e of events) emitter.off(e, done);
      resolve();
    };
    for (const e of events) emitter.on(e, done);
  });
}

import {
  ErrorCode,
  MessageType,
  RemoteError,
  SocketError,
  TimeoutError,
  type SocketMessage,
} from '@socketkit/protocol';
import { isLibraryError, libraryErrorOf } from '../wire/frames.js';
import { validateData, type StandardSchemaV1 } from '../wire/schema.js';

interface Pending {
  resolve(m: SocketMessage): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** The connection the request was written to; undefined while it waits in the offline buffer. */
  session: number | undefined;
}

/**
 * Requests in flight, matched to replies by id. A request is tied to the
 * connection it was written on, so when that connection drops its requests
 * fail at once (the reply can no longer come) instead of waiting out their
 * timeout; a request still waiting in the offline buffer is not affected.
 */
export class PendingRequests {
  readonly #map = new Map<string, Pending>();

  /**
   * Throws when `max` requests are already in flight.
   * @throws SocketError `BUFFER_FULL`.
   */
  checkRoom(max: number): void {
    if (this.#map.size < max) return;
    throw new SocketError(
      ErrorCode.BUFFER_FULL,
      `${this.#map.size} requests already in flight (maxPendingRequests): await some before sending more`,
    );
  }

  /** Requests in flight. */
  get size(): number {
    return this.#map.size;
  }

  /**
   * Tracks request `id`. Rejects with `timeoutError()` after `timeoutMs`
   * (`Infinity`: never).
   */
  add(id: string, timeoutMs: number, session: number | undefined, timeoutError: () => Error): Promise<SocketMessage> {
    return new Promise<SocketMessage>((resolve, reject) => {
      const timer =
        timeoutMs === Number.POSITIVE_INFINITY
          ? undefined
          : setTimeout(() => {
              this.#map.delete(id);
              reject(timeoutError());
            }, timeoutMs);
      this.#map.set(id, { resolve, reject, timer, session });
    });
  }

  /** Records that request `id` (from the offline buffer) was written on `session`. */
  sentOn(id: string, session: number): void {
    const p = this.#map.get(id);
    if (p !== undefined) p.session = session;
  }

  /** True when `id` is in flight. */
  has(id: string): boolean {
    return this.#map.has(id);
  }

  /**
   * Settles the request that `m` replies to: an ERROR reply rejects it (see
   * {@link replyErrorOf}), any other resolves it.
   * @returns false when no request waits for it (a late reply, after its timeout).
   */
  reply(m: SocketMessage, eventName: string, address: string): boolean {
    const outcome = m.messageType === MessageType.ERROR ? { error: replyErrorOf(m, eventName, address) } : { reply: m };
    return this.settle(m.replyTo as string, outcome);
  }

  /** Settles request `id` with a reply or an error; false when no such request is in flight. */
  settle(id: string, outcome: { reply: SocketMessage } | { error: Error }): boolean {
    const p = this.#map.get(id);
    if (p === undefined) return false;
    this.#map.delete(id);
    clearTimeout(p.timer);
    if ('reply' in outcome) p.resolve(outcome.reply);
    else p.reject(outcome.error);
    return true;
  }

  /** Rejects every request written on `session` with `error`. */
  failSession(session: number, error: Error): void {
    for (const [id, p] of this.#map) if (p.session === session) this.settle(id, { error });
  }

  /** Rejects every request with `error`. */
  failAll(error: Error): void {
    for (const id of [...this.#map.keys()]) this.settle(id, { error });
  }
}

/**
 * The error an ERROR reply to a request rejects it with: a library error
 * (`origin: "socketkit"`: NO_HANDLER, SEND_NOT_ALLOWED, FRAME_TOO_LARGE, ...)
 * keeps its class; anything else is the application's: a {@link RemoteError}
 * carrying the handler's code (HANDLER_FAILED when it had none) and message.
 */
export function replyErrorOf(m: SocketMessage, eventName: string, address: string): SocketError {
  const d = m.data;
  if (isLibraryError(m) && d.code !== ErrorCode.HANDLER_FAILED && d.code !== ErrorCode.REMOTE_ERROR) {
    return libraryErrorOf(m, eventName);
  }
  const remoteCode = typeof d.code === 'string' && d.code.length > 0 ? d.code : ErrorCode.HANDLER_FAILED;
  const remoteMessage = typeof d.error === 'string' ? d.error : JSON.stringify(d);
  return new RemoteError(
    `the request handler of "${eventName}" at ${address} failed with ${remoteCode}: ${remoteMessage}`,
    { remoteCode, remoteMessage, details: { eventName, id: m.replyTo, data: d } },
  );
}

/** The error of a request to a server that never welcomed this client (it does not speak the handshake). */
export function requestsUnsupported(eventName: string, address: string): SocketError {
  return new SocketError(
    ErrorCode.REQUESTS_UNSUPPORTED,
    `the server of "${eventName}" at ${address} does not answer requests: it never sent a welcome ` +
      '(it does not speak the socketkit handshake, e.g. the Python module, which drops the request id); ' +
      'use send() and receive() instead',
    { details: { eventName, address } },
  );
}

/** The error of a request that got no reply in time. */
export function replyTimeout(eventName: string, id: string, timeout: number): TimeoutError {
  return new TimeoutError(
    `no reply from "${eventName}" within ${timeout} ms (request ${id}): is a handler registered on the server? ` +
      'raise the timeout for slow handlers',
    { details: { id, timeout } },
  );
}

/** `reply` checked by a request's `schema` (its output becomes `data`; a refusal rejects with `INVALID_MESSAGE`). */
export function checkedReply<TRes>(
  reply: Promise<SocketMessage>,
  schema: StandardSchemaV1<unknown, TRes> | undefined,
  eventName: string,
): Promise<SocketMessage<TRes>> {
  if (schema === undefined) return reply as Promise<SocketMessage<TRes>>;
  return reply.then((m) => {
    const checked = validateData(schema, m.data, eventName);
    if (checked.error !== undefined) throw checked.error;
    return { ...m, data: checked.value } as SocketMessage<TRes>;
  });
}

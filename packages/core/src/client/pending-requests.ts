import type { SocketMessage } from '@socketkit/protocol';

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

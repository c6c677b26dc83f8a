import { ErrorCode } from '@socketkit/protocol';
import { startTimer } from '../settings.js';
import type { FramedConnection } from '../wire/connection.js';
import type { ServerSettings } from './options.js';

/**
 * What a peer may send before it is cut off, on top of the framing limits:
 * at most `maxInvalidPerSecond` invalid messages in a one-second window
 * (`TOO_MANY_INVALID`), and every started frame finished within
 * `frameTimeoutMs` (`TIMEOUT`: a peer cannot hold a slot by trickling one
 * frame). The peer refuses with what `refuse` is given.
 */
export class InputGuard {
  readonly #settings: ServerSettings;
  readonly #eventName: string;
  readonly #refuse: (code: ErrorCode, text: string) => void;
  /** Start (ms) of the current one-second window of invalid messages, and their count in it. */
  #invalidWindow = 0;
  #invalidInWindow = 0;
  #frameTimer: NodeJS.Timeout | undefined;
  #frameMark = -1;

  constructor(settings: ServerSettings, eventName: string, refuse: (code: ErrorCode, text: string) => void) {
    this.#settings = settings;
    this.#eventName = eventName;
    this.#refuse = refuse;
  }

  /**
   * Counts one skipped invalid message.
   * @returns false when it was one too many: the peer has been refused `TOO_MANY_INVALID`.
   */
  invalid(): boolean {
    const max = this.#settings.maxInvalidPerSecond;
    const now = Date.now();
    if (now - this.#invalidWindow >= 1000) {
      this.#invalidWindow = now;
      this.#invalidInWindow = 0;
    }
    if (++this.#invalidInWindow <= max) return true;
    this.#refuse(
      ErrorCode.TOO_MANY_INVALID,
      `more than ${max} invalid messages within one second (maxInvalidPerSecond) from this connection to ` +
        `"${this.#eventName}": fix the sender; closing this connection`,
    );
    return false;
  }

  /** After each chunk read: (re)arms the frame timer while a frame is started, clears it once none is. */
  afterChunk(conn: FramedConnection): void {
    if (conn.decoder.bufferedBytes === 0) {
      this.stop();
      return;
    }
    const mark = conn.framesReceived + conn.invalidMessages;
    if (this.#frameTimer !== undefined && mark === this.#frameMark) return;
    this.#frameMark = mark;
    clearTimeout(this.#frameTimer);
    const ms = this.#settings.frameTimeoutMs;
    this.#frameTimer = startTimer(ms, () => {
      this.#refuse(
        ErrorCode.TIMEOUT,
        `a frame was started but not finished within ${ms} ms (frameTimeoutMs): send whole frames`,
      );
    });
  }

  /** Stops the frame timer. */
  stop(): void {
    clearTimeout(this.#frameTimer);
    this.#frameTimer = undefined;
  }
}

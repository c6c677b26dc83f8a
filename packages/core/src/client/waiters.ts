/**
 * Promises that wait for the server's answer (its welcome, or any answer to
 * hello), each with its own timer: settled all at once by the client, or one
 * by one when their time is up.
 * @packageDocumentation
 */
import { TimeoutError } from '@socketkit/protocol';

/**
 * How long connect() waits for a server without a token to answer `hello`
 * before it takes the server for one without the handshake (the Python
 * module never answers) and resolves (ms). A socketkit server answers at
 * once, so a refusal (`MAX_CONNECTIONS`) still rejects connect(); a token
 * client always waits for the welcome, up to the connect timeout.
 */
export const SILENT_SERVER_GRACE_MS = 1000;

/** What a waiter does when its time is up: resolve with a value, or reject. */
export type Expiry<V> = { readonly resolve: V } | { readonly reject: Error };

interface Waiter<V> {
  resolve(value: V): void;
  reject(e: Error): void;
}

/** A list of waiters (see the file comment). */
export class Waiters<V> {
  readonly #list: Waiter<V>[] = [];

  /**
   * A promise settled by {@link resolveAll} / {@link rejectAll}, or after
   * `timeoutMs` (`Infinity`: never) as `expire` says.
   */
  wait(timeoutMs: number, expire: () => Expiry<V>): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const w: Waiter<V> = {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (timeoutMs !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(() => {
          const i = this.#list.indexOf(w);
          if (i >= 0) this.#list.splice(i, 1);
          const x = expire();
          if ('reject' in x) reject(x.reject);
          else resolve(x.resolve);
        }, timeoutMs);
      }
      this.#list.push(w);
    });
  }

  /** Resolves every waiter with `value`. */
  resolveAll(value: V): void {
    for (const w of this.#list.splice(0)) w.resolve(value);
  }

  /** Rejects every waiter with `e`. */
  rejectAll(e: Error): void {
    for (const w of this.#list.splice(0)) w.reject(e);
  }
}

/** Where the waits are, for their messages (read when a wait expires). */
export interface AnswerSource {
  readonly eventName: string;
  readonly address: string;
  readonly log: { info(message: string): unknown };
}

/**
 * The client's two kinds of waits for its server: for the `welcome`
 * (`waitForWelcome()`, `connect({ waitForWelcome: true })`), and for any
 * answer to hello (the default connect()).
 */
export class Answers<W> {
  readonly #welcome = new Waiters<W>();
  readonly #answer = new Waiters<void>();
  readonly #source: AnswerSource;

  constructor(source: AnswerSource) {
    this.#source = source;
  }

  /** Resolves with the welcome; rejects with a TimeoutError after `timeoutMs` (`Infinity`: never). */
  welcome(timeoutMs: number): Promise<W> {
    return this.#welcome.wait(timeoutMs, () => ({
      reject: new TimeoutError(
        `no welcome from "${this.#source.eventName}" at ${this.#source.address} within ${timeoutMs} ms: is it a ` +
          'socketkit server? Use handshake: false for servers without the handshake',
        { details: { timeout: timeoutMs } },
      ),
    }));
  }

  /**
   * Resolves once the server answered hello, or, with `silentGraceMs` (below
   * `timeoutMs`), once it stayed silent that long (then `silent()` runs):
   * a server without the handshake (the Python module) never answers.
   * Rejects with a TimeoutError after `timeoutMs`.
   */
  answer(timeoutMs: number, silentGraceMs: number | undefined, silent: () => void): Promise<void> {
    const src = this.#source;
    if (silentGraceMs !== undefined && silentGraceMs < timeoutMs) {
      return this.#answer.wait(silentGraceMs, () => {
        src.log.info(
          `"${src.eventName}" at ${src.address} did not answer hello within ${silentGraceMs} ms: ` +
            'connected as to a server without the handshake (a welcome that comes later is still taken); ' +
            'pass handshake: false for the Python module',
        );
        silent();
        return { resolve: undefined };
      });
    }
    return this.#answer.wait(timeoutMs, () => ({
      reject: new TimeoutError(
        `"${src.eventName}" at ${src.address} did not answer hello within ${timeoutMs} ms: ` +
          'a socketkit server answers at once. For a server without the handshake (the Python module) ' +
          'pass handshake: false, or connect({ waitForWelcome: false })',
        { details: { timeout: timeoutMs } },
      ),
    }));
  }

  /** Welcomed (`info`), or answered without a welcome (undefined): the waits it settles resolve. */
  answered(info: W | undefined): void {
    if (info !== undefined) this.#welcome.resolveAll(info);
    this.#answer.resolveAll();
  }

  /** The client closed: every wait rejects with `reason`. */
  fail(reason: Error): void {
    this.#welcome.rejectAll(reason);
    this.#answer.rejectAll(reason);
  }
}

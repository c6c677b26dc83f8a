/**
 * Promises that wait for the server's answer (its welcome, or any answer to
 * hello), each with its own timer: settled all at once by the client, or one
 * by one when their time is up.
 * @packageDocumentation
 */

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

/**
 * Where the broker keeps its tasks. Two implementations behind one small
 * interface: {@link MemoryStore} (nothing survives a restart; bodies stay in
 * the broker's memory) and {@link LmdbStore} (LMDB through the `lmdb`
 * package: a task is accepted only once its write is committed, its body
 * lives on disk only, and a restart finds every task again).
 */
import { unpackValue } from '@socketkit/codec';
import type { WireError } from './errors.js';

/** State of a task. */
export type TaskState = 'pending' | 'inflight' | 'done' | 'dead';

/** A task as stored (its body apart: see {@link TaskStore.body}). */
export interface StoredTask {
  /** The task id (chosen by the submitter, unique). */
  id: string;
  /** Order of acceptance (restored tasks are queued in this order). */
  seq: number;
  /** The body, as the submitter sent it: memory mode only (a durable store keeps bodies on disk). */
  body?: unknown;
  /** Size of the body in bytes (msgpack). */
  bytes: number;
  state: TaskState;
  /** Deliveries so far (the attempt of the last delivery). */
  attempt: number;
  /** Deliveries that ended without an outcome (lost worker, ack timeout). */
  failures: number;
  /** No outcome is wanted. */
  noReply: boolean;
  /** Epoch ms of acceptance. */
  createdAt: number;
  /** Epoch ms of the outcome (done/dead). */
  doneAt?: number;
  /** The outcome: `{ ok: true, result }` or `{ ok: false, error }`. */
  outcome?: { ok: boolean; result?: unknown; error?: WireError };
  /** Why the last delivery ended without an outcome. */
  lastError?: string;
}

/**
 * What a store does. `add` resolves once the task is durable (at once for memory); `update` and `delete` are
 * written with a later commit, in order, and nothing waits for them.
 */
export interface TaskStore {
  /** True when writes survive a restart; a durable store also keeps the bodies (read them with {@link body}). */
  readonly durable: boolean;
  /** Every stored task (at startup), oldest first, without bodies. */
  load(): StoredTask[];
  /** The body of a stored task (a durable store reads it from disk); undefined when the store keeps no bodies. */
  body(task: StoredTask): unknown;
  /** Stores a new task and its msgpack-encoded body; resolves once committed. */
  add(task: StoredTask, body: Uint8Array): Promise<void>;
  /** Records a task's new state (read from `task` when it is written: the latest state wins). */
  update(task: StoredTask): void;
  /** Removes a task and its body. */
  delete(task: StoredTask): void;
  /** Writes what is left and releases the store. */
  close(): Promise<void>;
}

/** Keeps nothing: a restart of the broker loses every pending, in-flight and finished task. */
export class MemoryStore implements TaskStore {
  readonly durable = false;
  load(): StoredTask[] {
    return [];
  }
  body(): unknown {
    return undefined;
  }
  add(): Promise<void> {
    return Promise.resolve();
  }
  update(): void {}
  delete(): void {}
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Options of the durable store. */
export interface StoreOptions {
  /** Directory of the LMDB environment (created if missing). */
  path: string;
  /** Largest size of the database file in bytes (LMDB map size; default 4 GiB, grown by lmdb as needed). */
  mapSize?: number;
}

interface LmdbDatabase {
  put(key: number, value: unknown): Promise<boolean>;
  remove(key: number): Promise<boolean>;
  getBinary(key: number): Uint8Array | undefined;
  getRange(options?: object): Iterable<{ key: unknown; value: unknown }>;
  openDB(options: object): LmdbDatabase;
  readonly committed: PromiseLike<unknown>;
  close(): Promise<void>;
}

/**
 * Longest a state change after acceptance (delivered, done, dead, forgotten) waits before it is written, in ms.
 * Changes of the same task within it are written once (a task delivered and finished within it costs one write).
 * A broker killed within it redelivers the task after its restart: at least once, never lost.
 */
const LAZY_WRITE_MS = 10;

interface PendingAdd {
  seq: number;
  record: StoredTask;
  body: Uint8Array;
  resolve(): void;
  reject(e: Error): void;
}

/** The fields of a task's record in the `tasks` database. */
function record(t: StoredTask): StoredTask {
  const r: StoredTask = {
    id: t.id,
    seq: t.seq,
    bytes: t.bytes,
    state: t.state,
    attempt: t.attempt,
    failures: t.failures,
    noReply: t.noReply,
    createdAt: t.createdAt,
  };
  if (t.doneAt !== undefined) r.doneAt = t.doneAt;
  if (t.outcome !== undefined) r.outcome = t.outcome;
  if (t.lastError !== undefined) r.lastError = t.lastError;
  return r;
}

/**
 * Tasks in LMDB (the `lmdb` package: prebuilt binaries, values encoded with msgpackr), in two databases of one
 * environment: `tasks` (→ the small record above) and `bodies` (→ the body's msgpack bytes, as received; removed
 * when the task is done), both keyed by the task's `seq` (order of acceptance): new tasks are appended at the end of
 * the B-trees and finished ones leave from the start, so a commit dirties few pages. The broker's memory holds no
 * body: it reads one when it delivers the task.
 *
 * Group commit: at most one transaction is in flight (lmdb commits it on its own thread); every acceptance that
 * arrives meanwhile waits for the next one, started as soon as the first is committed, so under load a transaction
 * carries many tasks and nothing waits for a timer. `add` resolves when its transaction is committed (visible to a
 * restarted broker: it survives the broker's crash; LMDB's overlapping sync flushes it to the disk right after).
 * Later state changes are coalesced per task and go with the next transaction, at most 10 ms (`LAZY_WRITE_MS`) later.
 */
export class LmdbStore implements TaskStore {
  readonly durable = true;
  readonly #root: LmdbDatabase;
  readonly #tasks: LmdbDatabase;
  readonly #bodies: LmdbDatabase;
  /** State changes not written yet: seq → the task (its latest state is written) or null (delete). */
  readonly #dirty = new Map<number, StoredTask | null>();
  #timer: NodeJS.Timeout | undefined;
  /** Acceptances waiting for the next transaction. */
  #adds: PendingAdd[] = [];
  /** A transaction is in flight (`#current` settles when it is committed). */
  #committing = false;
  #current: Promise<void> | undefined;
  #scheduled = false;
  #closed = false;

  private constructor(root: LmdbDatabase) {
    this.#root = root;
    this.#tasks = root.openDB({ name: 'tasks', encoding: 'msgpack' });
    this.#bodies = root.openDB({ name: 'bodies', encoding: 'binary' });
  }

  /** Opens (or creates) the store at `options.path`. */
  static async open(options: StoreOptions): Promise<LmdbStore> {
    const lmdb = (await import('lmdb')) as unknown as { open(o: object): LmdbDatabase };
    const root = lmdb.open({ path: options.path, compression: false, mapSize: options.mapSize, noSync: false });
    return new LmdbStore(root);
  }

  load(): StoredTask[] {
    const out: StoredTask[] = [];
    for (const { value } of this.#tasks.getRange()) out.push(value as StoredTask); // in key (seq) order
    return out;
  }

  body(task: StoredTask): unknown {
    const bytes = this.#bodies.getBinary(task.seq);
    return bytes === undefined ? null : unpackValue(bytes); // missing only if the files were altered: deliver nil
  }

  add(task: StoredTask, body: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    return new Promise((resolve, reject) => {
      this.#adds.push({ seq: task.seq, record: record(task), body, resolve, reject });
      if (!this.#committing && !this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          if (!this.#committing) this.#commit();
        });
      }
    });
  }

  update(task: StoredTask): void {
    this.#later(task.seq, task);
  }

  delete(task: StoredTask): void {
    this.#later(task.seq, null);
  }

  #later(seq: number, t: StoredTask | null): void {
    if (this.#closed) return;
    this.#dirty.set(seq, t);
    this.#armLazy();
  }

  #armLazy(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      if (this.#committing) this.#armLazy();
      else this.#commit();
    }, LAZY_WRITE_MS);
  }

  /**
   * One transaction for every acceptance queued since the last one, with the state changes collected so far. At
   * most one is in flight: what arrives meanwhile goes into the next, started as soon as this one is committed.
   */
  #commit(): void {
    const adds = this.#adds;
    if (adds.length === 0 && this.#dirty.size === 0) return;
    this.#adds = [];
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    let committed: Promise<unknown> | undefined;
    // Writes issued in one turn mostly share one promise (their transaction's): watch each distinct one once.
    const write = (p: Promise<unknown>): void => {
      if (p === committed) return;
      committed = p;
      p.catch(() => undefined); // a failed commit is reported through the acceptances below
    };
    for (const [seq, t] of this.#dirty) {
      if (t === null) {
        write(this.#bodies.remove(seq));
        write(this.#tasks.remove(seq));
      } else {
        if (t.state === 'done') write(this.#bodies.remove(seq));
        write(this.#tasks.put(seq, record(t)));
      }
    }
    this.#dirty.clear();
    for (const a of adds) {
      write(this.#bodies.put(a.seq, a.body));
      write(this.#tasks.put(a.seq, a.record));
    }
    // lmdb commits in order, and every write issued in this turn shares the last one's transaction (or an earlier one).
    this.#committing = true;
    this.#current = (committed as Promise<unknown>).then(
      () => {
        for (const a of adds) a.resolve();
      },
      (e: Error) => {
        for (const a of adds) a.reject(e);
      },
    );
    void this.#current.then(() => {
      this.#committing = false;
      this.#current = undefined;
      if (this.#adds.length > 0) this.#commit();
      else if (this.#dirty.size > 0) this.#armLazy();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (;;) {
      if (this.#current !== undefined) await this.#current;
      else if (this.#adds.length > 0 || this.#dirty.size > 0) this.#commit();
      else break;
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#root.committed;
    await this.#root.close();
  }
}

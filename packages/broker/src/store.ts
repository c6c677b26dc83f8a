/**
 * Where the broker keeps its tasks. Two implementations behind one small
 * interface: {@link MemoryStore} (nothing survives a restart) and
 * {@link LmdbStore} (LMDB through the `lmdb` package: a task is accepted only
 * once its write is committed, and a restart finds every task again).
 */
import type { WireError } from './errors.js';

/** State of a task. */
export type TaskState = 'pending' | 'inflight' | 'done' | 'dead';

/** A task as stored. */
export interface StoredTask {
  /** The task id (chosen by the submitter, unique). */
  id: string;
  /** Order of acceptance (restored tasks are queued in this order). */
  seq: number;
  /** The body, as the submitter sent it. */
  body: unknown;
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

/** What a store does. Writes are ordered; `put`/`delete` resolve once durable (at once for memory). */
export interface TaskStore {
  /** True when writes survive a restart. */
  readonly durable: boolean;
  /** Every stored task (at startup). */
  load(): StoredTask[];
  /** Stores (or replaces) a task. */
  put(task: StoredTask): Promise<void>;
  /** Removes a task. */
  delete(id: string): Promise<void>;
  /** Releases the store. */
  close(): Promise<void>;
}

/** Keeps nothing: a restart of the broker loses every pending, in-flight and finished task. */
export class MemoryStore implements TaskStore {
  readonly durable = false;
  load(): StoredTask[] {
    return [];
  }
  put(): Promise<void> {
    return Promise.resolve();
  }
  delete(): Promise<void> {
    return Promise.resolve();
  }
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
  put(key: string, value: unknown): Promise<boolean>;
  remove(key: string): Promise<boolean>;
  getRange(options?: object): Iterable<{ key: unknown; value: unknown }>;
  close(): Promise<void>;
}

/**
 * Tasks in LMDB (the `lmdb` package: prebuilt binaries, values encoded with
 * msgpackr). Each `put` resolves once its transaction is committed and
 * synced to disk; writes are batched by lmdb, so many tasks accepted at once
 * share one commit.
 */
export class LmdbStore implements TaskStore {
  readonly durable = true;
  readonly #db: LmdbDatabase;

  private constructor(db: LmdbDatabase) {
    this.#db = db;
  }

  /** Opens (or creates) the store at `options.path`. */
  static async open(options: StoreOptions): Promise<LmdbStore> {
    const lmdb = (await import('lmdb')) as unknown as { open(o: object): LmdbDatabase };
    const db = lmdb.open({ path: options.path, compression: false, mapSize: options.mapSize, noSync: false });
    return new LmdbStore(db);
  }

  load(): StoredTask[] {
    const out: StoredTask[] = [];
    for (const { value } of this.#db.getRange()) out.push(value as StoredTask);
    return out.sort((a, b) => a.seq - b.seq);
  }

  async put(task: StoredTask): Promise<void> {
    await this.#db.put(task.id, task);
  }

  async delete(id: string): Promise<void> {
    await this.#db.remove(id);
  }

  async close(): Promise<void> {
    await this.#db.close();
  }
}

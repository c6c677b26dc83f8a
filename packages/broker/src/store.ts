/**
 * Where the broker keeps its tasks. Two implementations behind one small
 * interface: {@link MemoryStore} (nothing survives a restart; bodies stay in
 * the broker's memory) and {@link LmdbStore} (LMDB through the `lmdb`
 * package: a task is accepted only once its write is committed, its body
 * lives on disk only, and a restart finds every task again).
 */
import { packValue, unpackValue } from '@socketkit/codec';
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
  /**
   * The body of a stored task, for a delivery (a durable store reads it from disk, or takes it from its cache of
   * bodies not delivered yet); undefined when the store keeps no bodies.
   */
  body(task: StoredTask): unknown;
  /**
   * Stores a new task and its msgpack-encoded body; resolves once committed. `decoded` is the same body as a value:
   * a durable store may keep it (bounded) so that a delivery soon after needs no read from disk.
   */
  add(task: StoredTask, body: Uint8Array, decoded?: unknown): Promise<void>;
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
  /**
   * Bytes of task bodies (their msgpack size, plus 64 per body) kept in memory between a task's acceptance and
   * its first delivery, so that a task delivered soon after it arrived needs no read from disk (default 1 MiB;
   * 0: none). Beyond it, bodies are read from disk when their task is delivered.
   */
  cacheBytes?: number;
}

/** Default {@link StoreOptions.cacheBytes}. */
const CACHE_BYTES = 1024 * 1024;
/** What a cached body costs beyond its msgpack bytes (its map entry and object headers), for the byte bound. */
const CACHE_ENTRY_BYTES = 64;

interface LmdbDatabase {
  put(key: number, value: unknown): Promise<boolean>;
  remove(key: number): Promise<boolean>;
  getBinary(key: number): Uint8Array | undefined;
  /** A view of a shared buffer, valid until the next read. */
  getBinaryFast(key: number): Uint8Array | undefined;
  getKeys(options?: object): Iterable<unknown>;
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
/**
 * A state change younger than this (ms) is not written by the transaction of new acceptances (it waits for a later
 * one, or for `LAZY_WRITE_MS`): a task delivered and finished in that time costs one write, not two.
 */
const MIN_AGE_MS = LAZY_WRITE_MS / 2;

interface PendingAdd {
  task: StoredTask;
  body: Uint8Array;
  resolve(): void;
  reject(e: Error): void;
}

/** A state change not written yet: the task (its latest state is written) or null (delete), and since when. */
interface Dirty {
  task: StoredTask | null;
  at: number;
}

const STATES: readonly TaskState[] = ['pending', 'inflight', 'done', 'dead'];
const STATE_CODE: Readonly<Record<TaskState, number>> = { pending: 0, inflight: 1, done: 2, dead: 3 };
const FORMAT = 1;
const F_NO_REPLY = 1;
const F_DONE_AT = 2;
const F_EXTRA = 4;
const F_BODY = 8;
/**
 * Fixed part of a record: format, state, flags, 0 (u8), attempt, failures, bytes (u32), createdAt, doneAt (f64),
 * id length (u16).
 */
const HEAD = 34;

/**
 * A task's value in LMDB, one Buffer (no msgpack object per record): the fixed part above (little endian), the id
 * (UTF-8), then `{ outcome, lastError }` as msgpack behind a u32 length when either is set, then the body's msgpack
 * bytes (to the end) while the task needs them (not once done).
 */
function encodeRecord(t: StoredTask, body: Uint8Array | undefined): Buffer {
  const idBytes = Buffer.byteLength(t.id);
  const extra = t.outcome !== undefined || t.lastError !== undefined ? packExtra(t) : undefined;
  const size = HEAD + idBytes + (extra === undefined ? 0 : 4 + extra.length) + (body === undefined ? 0 : body.length);
  const b = Buffer.allocUnsafe(size);
  const flags =
    (t.noReply ? F_NO_REPLY : 0) |
    (t.doneAt !== undefined ? F_DONE_AT : 0) |
    (extra !== undefined ? F_EXTRA : 0) |
    (body !== undefined ? F_BODY : 0);
  b[0] = FORMAT;
  b[1] = STATE_CODE[t.state];
  b[2] = flags;
  b[3] = 0;
  b.writeUInt32LE(t.attempt, 4);
  b.writeUInt32LE(t.failures, 8);
  b.writeUInt32LE(t.bytes, 12);
  b.writeDoubleLE(t.createdAt, 16);
  b.writeDoubleLE(t.doneAt ?? 0, 24);
  b.writeUInt16LE(idBytes, 32);
  let at = HEAD + b.write(t.id, HEAD, 'utf8');
  if (extra !== undefined) {
    b.writeUInt32LE(extra.length, at);
    b.set(extra, at + 4);
    at += 4 + extra.length;
  }
  if (body !== undefined) b.set(body, at);
  return b;
}

/** `{ outcome?, lastError? }` as msgpack, without undefined fields (msgpack has none). */
function packExtra(t: StoredTask): Buffer {
  const x: Record<string, unknown> = {};
  const o = t.outcome;
  if (o !== undefined) {
    const out: Record<string, unknown> = { ok: o.ok };
    if (o.result !== undefined) out.result = o.result;
    if (o.error !== undefined) out.error = o.error;
    x.outcome = out;
  }
  if (t.lastError !== undefined) x.lastError = t.lastError;
  try {
    return packValue(x);
  } catch (e) {
    // Not reachable with values decoded from the wire; never let one record stop the transaction of the others.
    const message = `the outcome could not be stored: ${(e as Error).message}`;
    return packValue({ outcome: { ok: false, error: { code: 'INTERNAL', message } } });
  }
}

/** Where the body starts in a record (its end is the record's end), or -1 when the record has none. */
function bodyStart(b: Buffer): number {
  if ((b[2] as number) & F_BODY) {
    const at = HEAD + b.readUInt16LE(32);
    return (b[2] as number) & F_EXTRA ? at + 4 + b.readUInt32LE(at) : at;
  }
  return -1;
}

function decodeRecord(seq: number, b: Buffer): StoredTask {
  if (b[0] !== FORMAT) throw new Error(`task ${seq} in the store has an unknown format ${b[0]}`);
  const flags = b[2] as number;
  const idEnd = HEAD + b.readUInt16LE(32);
  const t: StoredTask = {
    id: b.toString('utf8', HEAD, idEnd),
    seq,
    bytes: b.readUInt32LE(12),
    state: STATES[b[1] as number] as TaskState,
    attempt: b.readUInt32LE(4),
    failures: b.readUInt32LE(8),
    noReply: (flags & F_NO_REPLY) !== 0,
    createdAt: b.readDoubleLE(16),
  };
  if (flags & F_DONE_AT) t.doneAt = b.readDoubleLE(24);
  if (flags & F_EXTRA) {
    const len = b.readUInt32LE(idEnd);
    // A copy: `b` may be lmdb's shared read buffer, and decoded binary values may be views of their input.
    const bytes = Buffer.from(b.subarray(idEnd + 4, idEnd + 4 + len));
    const x = unpackValue(bytes) as Pick<StoredTask, 'outcome' | 'lastError'>;
    if (x.outcome != null) t.outcome = x.outcome;
    if (x.lastError != null) t.lastError = x.lastError;
  }
  return t;
}

/** Counts of the store's work since it was opened (see {@link LmdbStore.stats}). */
export interface StoreStats {
  /** LMDB puts (an acceptance is one; a later state change of a task one more). */
  puts: number;
  /** LMDB removes (a task forgotten). */
  removes: number;
  /** Transactions started. */
  commits: number;
  /** Bodies read back from disk for a delivery (the others came from the cache). */
  bodyReads: number;
  /** Bodies in the cache now (accepted, not delivered yet). */
  cachedBodies: number;
  /** Bytes the cache counts now (msgpack size + 64 per body), at most {@link StoreOptions.cacheBytes}. */
  cachedBytes: number;
}

/**
 * Tasks in LMDB (the `lmdb` package: prebuilt binaries), one value per task in the `records` database, keyed by the
 * task's `seq` (order of acceptance): a fixed-layout record with the body's msgpack bytes as received (see
 * `encodeRecord`), so an acceptance is one put. New tasks are appended at the end of the B-tree and finished ones
 * leave from the start, so a commit dirties few pages. The broker's memory holds no body beyond a small cache
 * (`cacheBytes`) of bodies accepted and not delivered yet; a delivery reads the others from disk.
 *
 * Group commit: at most one transaction is in flight (lmdb commits it on its own thread); every acceptance that
 * arrives meanwhile waits for the next one, started as soon as the first is committed, so under load a transaction
 * carries many tasks and nothing waits for a timer. `add` resolves when its transaction is committed (visible to a
 * restarted broker: it survives the broker's crash; LMDB's overlapping sync flushes it to the disk right after).
 * Later state changes are coalesced per task and written at most 10 ms (`LAZY_WRITE_MS`) later: with a transaction
 * of acceptances once they are 5 ms old, or by themselves at 10 ms.
 */
export class LmdbStore implements TaskStore {
  readonly durable = true;
  readonly #root: LmdbDatabase;
  readonly #records: LmdbDatabase;
  /** State changes not written yet, in the order of their first change (so the oldest come first). */
  readonly #dirty = new Map<number, Dirty>();
  readonly #cache = new Map<number, unknown>();
  readonly #cacheMax: number;
  #cacheBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Acceptances waiting for the next transaction. */
  #adds: PendingAdd[] = [];
  /** The acceptances of the transaction in flight (their bodies, until it is committed). */
  #writing: PendingAdd[] = [];
  /** A transaction is in flight (`#current` settles when it is committed). */
  #committing = false;
  #current: Promise<void> | undefined;
  #scheduled = false;
  #closed = false;
  readonly #stats = { puts: 0, removes: 0, commits: 0, bodyReads: 0 };

  private constructor(root: LmdbDatabase, cacheBytes: number) {
    this.#root = root;
    this.#records = root.openDB({ name: 'records', encoding: 'binary' });
    this.#cacheMax = cacheBytes;
  }

  /** Opens (or creates) the store at `options.path`. */
  static async open(options: StoreOptions): Promise<LmdbStore> {
    const cacheBytes = options.cacheBytes ?? CACHE_BYTES;
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) {
      throw new TypeError(`store.cacheBytes must be a whole number of bytes >= 0, got ${String(options.cacheBytes)}`);
    }
    const lmdb = (await import('lmdb')) as unknown as { open(o: object): LmdbDatabase };
    const root = lmdb.open({ path: options.path, compression: false, mapSize: options.mapSize, noSync: false });
    return new LmdbStore(root, cacheBytes);
  }

  /** What the store did since it was opened, and what its body cache holds. */
  get stats(): StoreStats {
    return { ...this.#stats, cachedBodies: this.#cache.size, cachedBytes: this.#cacheBytes };
  }

  load(): StoredTask[] {
    const out: StoredTask[] = [];
    // Keys, then each record through lmdb's shared read buffer: no copy of every body (a restart with many
    // pending tasks would otherwise allocate all their bodies at once).
    for (const key of this.#records.getKeys()) {
      const seq = key as number;
      out.push(decodeRecord(seq, this.#records.getBinaryFast(seq) as Buffer));
    }
    return out; // in key (seq) order
  }

  body(task: StoredTask): unknown {
    if (this.#cache.has(task.seq)) {
      const body = this.#cache.get(task.seq);
      this.#uncache(task);
      return body;
    }
    this.#stats.bodyReads++;
    const bytes = this.#bodyBytes(task.seq, false);
    return bytes === undefined ? null : unpackValue(bytes); // missing only if the files were altered: deliver nil
  }

  /**
   * The body's msgpack bytes as stored (or about to be: an acceptance in flight), or undefined; with `fast`, a view
   * of lmdb's shared read buffer (copy it before the next read).
   */
  #bodyBytes(seq: number, fast: boolean): Uint8Array | undefined {
    const rec = (fast ? this.#records.getBinaryFast(seq) : this.#records.getBinary(seq)) as Buffer | undefined;
    if (rec === undefined) return this.#writing.find((a) => a.task.seq === seq)?.body;
    const at = bodyStart(rec);
    return at < 0 ? undefined : rec.subarray(at, rec.length);
  }

  #uncache(task: StoredTask): void {
    if (this.#cache.delete(task.seq)) this.#cacheBytes -= task.bytes + CACHE_ENTRY_BYTES;
  }

  add(task: StoredTask, body: Uint8Array, decoded?: unknown): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    const cost = body.length + CACHE_ENTRY_BYTES;
    if (decoded !== undefined && this.#cacheBytes + cost <= this.#cacheMax) {
      this.#cache.set(task.seq, decoded);
      this.#cacheBytes += cost;
    }
    return new Promise((resolve, reject) => {
      this.#adds.push({ task, body, resolve, reject });
      if (!this.#committing && !this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => {
          this.#scheduled = false;
          if (!this.#committing) this.#commit(false);
        });
      }
    });
  }

  update(task: StoredTask): void {
    if (task.state === 'done' || task.state === 'dead') this.#uncache(task); // (a delivery takes it: body())
    this.#later(task.seq, task);
  }

  delete(task: StoredTask): void {
    this.#uncache(task);
    this.#later(task.seq, null);
  }

  #later(seq: number, t: StoredTask | null): void {
    if (this.#closed) return;
    const d = this.#dirty.get(seq);
    if (d === undefined) this.#dirty.set(seq, { task: t, at: Date.now() });
    else d.task = t;
    this.#armLazy();
  }

  #armLazy(): void {
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      if (this.#committing) this.#armLazy();
      else this.#commit(true);
    }, LAZY_WRITE_MS);
  }

  /**
   * One transaction for every acceptance queued since the last one, with the state changes collected so far (only
   * those at least `MIN_AGE_MS` old unless `all`). At most one is in flight: what arrives meanwhile goes into the
   * next, started as soon as this one is committed.
   */
  #commit(all: boolean): void {
    const adds = this.#adds;
    if (adds.length === 0 && this.#dirty.size === 0) return;
    this.#adds = [];
    let committed: Promise<unknown> | undefined;
    // Writes issued in one turn mostly share one promise (their transaction's): watch each distinct one once.
    const write = (p: Promise<unknown>): void => {
      if (p === committed) return;
      committed = p;
      p.catch(() => undefined); // a failed commit is reported through the acceptances below
    };
    for (const a of adds) {
      // A state change of a task accepted in this very transaction is written with it (its latest state).
      const d = this.#dirty.get(a.task.seq);
      if (d !== undefined) this.#dirty.delete(a.task.seq);
      if (d?.task === null) continue; // forgotten before it was written
      this.#stats.puts++;
      write(this.#records.put(a.task.seq, encodeRecord(a.task, a.task.state === 'done' ? undefined : a.body)));
    }
    const cutoff = all ? Number.POSITIVE_INFINITY : Date.now() - MIN_AGE_MS;
    for (const [seq, d] of this.#dirty) {
      if (d.at > cutoff) break; // the rest are younger (in order of their first change)
      this.#dirty.delete(seq);
      const t = d.task;
      if (t === null) {
        this.#stats.removes++;
        write(this.#records.remove(seq));
      } else {
        const body = t.state === 'done' ? undefined : this.#bodyBytes(seq, true); // copied by encodeRecord
        this.#stats.puts++;
        write(this.#records.put(seq, encodeRecord(t, body)));
      }
    }
    if (committed === undefined) {
      // Nothing old enough to write, and no acceptance left to write: wait for the lazy timer.
      for (const a of adds) a.resolve();
      if (this.#dirty.size > 0) this.#armLazy();
      return;
    }
    if (this.#dirty.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#stats.commits++;
    // lmdb commits in order, and every write issued in this turn shares the last one's transaction (or an earlier one).
    this.#committing = true;
    this.#writing = adds;
    this.#current = committed.then(
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
      this.#writing = [];
      if (this.#adds.length > 0) this.#commit(false);
      else if (this.#dirty.size > 0) this.#armLazy();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (;;) {
      if (this.#current !== undefined) await this.#current;
      else if (this.#adds.length > 0 || this.#dirty.size > 0) this.#commit(true);
      else break;
    }
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#cache.clear();
    this.#cacheBytes = 0;
    await this.#root.committed;
    await this.#root.close();
  }
}

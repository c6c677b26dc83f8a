/**
 * The raw baseline: a minimal hand-written `node:net` + msgpackr program
 * using socketkit's wire framing (4-byte big-endian length + msgpack map with
 * the same keys), with no validation, no handshake, no library.
 * Two write strategies: one `socket.write` per frame, or (the ceiling) frames
 * copied into buffers of up to 64 KiB, one `socket.write` per buffer; a
 * broadcast builds each buffer once and writes it to every socket.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Packr, Unpackr } from 'msgpackr';
import { ArrivalCounter } from '../harness/counter.js';
import { hrNow } from '../harness/stats.js';
import { timeRoundTrips } from '../harness/latency.js';
import type { Address, BroadcastResult, CountResult, TransportKind, WriteResult } from '../harness/types.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

interface RawMessage {
  event_name: string;
  timestamp_ms: number;
  timestamp_iso: string;
  message_type: string;
  data: Record<string, unknown>;
  id?: string;
  reply_to?: string;
}

let isoCache = { ms: Number.NaN, iso: '' };

/**
 * Encodes one message as a msgpack map (no length prefix): the body zeromq and nats.js carry in a message of their own.
 */
export function rawBody(eventName: string, data: Record<string, unknown>, id?: string, replyTo?: string): Buffer {
  const ms = Date.now();
  // Same shape and size as socketkit's Python-style timestamp: …T10:00:00.123000+00:00,
  // formatted once per millisecond (as socketkit does), not once per message.
  if (ms !== isoCache.ms) isoCache = { ms, iso: `${new Date(ms).toISOString().slice(0, 23)}000+00:00` };
  const iso = isoCache.iso;
  const msg: RawMessage = { event_name: eventName, timestamp_ms: ms, timestamp_iso: iso, message_type: 'data', data };
  if (id !== undefined) msg.id = id;
  if (replyTo !== undefined) msg.reply_to = replyTo;
  return packr.pack(msg);
}

/** Decodes a body made by {@link rawBody} (one decode per message, as a real receiver must). */
export function rawDecode(body: Uint8Array): { id?: string; reply_to?: string } {
  return unpackr.unpack(body) as RawMessage;
}

/** Encodes one message as a length-prefixed frame (the same bytes socketkit would send, give or take the timestamp). */
export function rawFrame(eventName: string, data: Record<string, unknown>, id?: string, replyTo?: string): Buffer {
  const payload = rawBody(eventName, data, id, replyTo);
  const frame = Buffer.allocUnsafe(4 + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, 4);
  return frame;
}

/** Streaming splitter of length-prefixed frames; a frame split across chunks is copied once. */
export class RawFrameReader {
  #header = Buffer.alloc(4);
  #headerFill = 0;
  #body: Buffer | undefined;
  #bodyFill = 0;

  /** Calls `onPayload` for every complete payload in `chunk` (views into `chunk` when possible). */
  feed(chunk: Buffer, onPayload: (payload: Buffer) => void): void {
    let pos = 0;
    const len = chunk.length;
    while (pos < len) {
      if (this.#body === undefined) {
        if (this.#headerFill === 0 && len - pos >= 4) {
          const size = chunk.readUInt32BE(pos);
          if (len - pos - 4 >= size) {
            onPayload(chunk.subarray(pos + 4, pos + 4 + size));
            pos += 4 + size;
            continue;
          }
          this.#body = Buffer.allocUnsafe(size);
          this.#bodyFill = 0;
          pos += 4;
          continue;
        }
        while (this.#headerFill < 4 && pos < len) this.#header[this.#headerFill++] = chunk[pos++]!;
        if (this.#headerFill < 4) return;
        this.#headerFill = 0;
        this.#body = Buffer.allocUnsafe(this.#header.readUInt32BE(0));
        this.#bodyFill = 0;
        continue;
      }
      const take = Math.min(this.#body.length - this.#bodyFill, len - pos);
      chunk.copy(this.#body, this.#bodyFill, pos, pos + take);
      this.#bodyFill += take;
      pos += take;
      if (this.#bodyFill === this.#body.length) {
        const body = this.#body;
        this.#body = undefined;
        onPayload(body);
      }
    }
  }
}

/** Largest buffer the batched baseline hands to one `socket.write`. */
export const BATCH_BYTES = 64 * 1024;

/** Writes frames to one socket: directly, or batched into buffers of up to 64 KiB flushed at the end of the tick. */
class RawWriter {
  #buf: Buffer | undefined;
  #len = 0;
  #scheduled = false;
  constructor(
    readonly socket: Socket,
    readonly batched: boolean,
  ) {}

  write(frame: Buffer): boolean {
    if (!this.batched) return this.socket.write(frame);
    if (frame.length >= BATCH_BYTES) {
      this.flush();
      return this.socket.write(frame);
    }
    if (this.#len + frame.length > BATCH_BYTES) this.flush();
    this.#buf ??= Buffer.allocUnsafe(BATCH_BYTES);
    frame.copy(this.#buf, this.#len);
    this.#len += frame.length;
    if (!this.#scheduled) {
      this.#scheduled = true;
      process.nextTick(this.flush);
    }
    return !this.socket.writableNeedDrain;
  }

  /** Writes what is batched (a fresh buffer follows: the socket keeps the written one until sent). */
  readonly flush = (): void => {
    this.#scheduled = false;
    if (this.#len === 0 || this.#buf === undefined) return;
    this.socket.write(this.#buf.subarray(0, this.#len));
    this.#buf = undefined;
    this.#len = 0;
  };
}

function waitDrain(socket: Socket): Promise<void> {
  if (!socket.writableNeedDrain || socket.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

function listen(server: Server, options: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The raw baseline server: broadcasts, answers requests, counts ingress. */
export class RawServer {
  readonly #server: Server;
  readonly #writers = new Set<RawWriter>();
  readonly #eventName: string;
  readonly #batched: boolean;
  #address: Address | undefined;
  readonly #ingress = new ArrivalCounter();

  constructor(eventName: string, batched: boolean) {
    this.#eventName = eventName;
    this.#batched = batched;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Starts listening on a unix socket in `socketDir` or on 127.0.0.1:0. */
  async start(transport: TransportKind, socketDir: string): Promise<Address> {
    if (transport === 'nats') throw new Error('no raw baseline over NATS');
    if (transport === 'unix') {
      const path = join(socketDir, `${this.#eventName}.sock`);
      await unlink(path).catch(() => undefined);
      await listen(this.#server, { path });
      this.#address = { transport, path, socketDir, eventName: this.#eventName };
    } else {
      await listen(this.#server, { host: '127.0.0.1', port: 0 });
      const a = this.#server.address();
      if (a === null || typeof a === 'string') throw new Error('no TCP address');
      this.#address = { transport, host: '127.0.0.1', port: a.port, eventName: this.#eventName };
    }
    return this.#address;
  }

  /** Connected clients. */
  clientCount(): number {
    return this.#writers.size;
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    const writer = new RawWriter(socket, this.#batched);
    this.#writers.add(writer);
    const reader = new RawFrameReader();
    socket.on('error', () => undefined);
    socket.on('close', () => this.#writers.delete(writer));
    socket.on('data', (chunk: Buffer) =>
      reader.feed(chunk, (payload) => {
        const msg = unpackr.unpack(payload) as RawMessage;
        if (msg.id !== undefined) {
          writer.write(rawFrame(this.#eventName, { ok: true }, undefined, msg.id));
          return;
        }
        this.#ingress.hit();
      }),
    );
  }

  /** Resets the ingress counter and expects `total` messages. */
  armIngress(total: number): void {
    this.#ingress.arm(total);
  }

  /** Resolves when the armed number of messages arrived. */
  waitIngress(): Promise<CountResult> {
    return this.#ingress.wait();
  }

  /**
   * Broadcasts `count` messages to every client: one encode per message; per
   * write, the frame is written to every socket; batched, frames are copied
   * into one buffer of up to 64 KiB that is written to every socket. Every
   * `drainEveryBytes` it waits for the sockets above their high-water mark to
   * drain (like `server.drain()`).
   */
  async broadcast(count: number, data: Record<string, unknown>, drainEveryBytes: number): Promise<BroadcastResult> {
    const writers = [...this.#writers];
    const batched = this.#batched;
    let buf = Buffer.allocUnsafe(BATCH_BYTES);
    let len = 0;
    const flush = (): void => {
      if (len === 0) return;
      const chunk = buf.subarray(0, len);
      for (const w of writers) w.socket.write(chunk);
      buf = Buffer.allocUnsafe(BATCH_BYTES);
      len = 0;
    };
    let frameBytes = 0;
    let sinceDrain = 0;
    const t0 = hrNow();
    for (let i = 0; i < count; i++) {
      const frame = rawFrame(this.#eventName, data);
      if (!batched) {
        for (const w of writers) w.write(frame);
      } else if (frame.length >= BATCH_BYTES) {
        flush();
        for (const w of writers) w.socket.write(frame);
      } else {
        if (len + frame.length > BATCH_BYTES) flush();
        frame.copy(buf, len);
        len += frame.length;
      }
      frameBytes = frame.length;
      sinceDrain += frame.length;
      if (sinceDrain >= drainEveryBytes) {
        sinceDrain = 0;
        flush();
        let waits: Promise<void>[] | undefined;
        for (const w of writers) if (w.socket.writableNeedDrain) (waits ??= []).push(waitDrain(w.socket));
        if (waits !== undefined) await Promise.all(waits);
      }
    }
    flush();
    return { t0, t1: hrNow(), frameBytes };
  }

  /** Closes every client and the listener. */
  async stop(): Promise<void> {
    for (const w of this.#writers) w.socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** The raw baseline client: counts broadcasts, sends requests, writes ingress. */
export class RawClient {
  readonly #socket: Socket;
  readonly #writer: RawWriter;
  readonly #eventName: string;
  readonly #arrivals = new ArrivalCounter();
  readonly #replies = new Map<string, () => void>();
  #seq = 0;

  private constructor(socket: Socket, eventName: string, batched: boolean) {
    this.#socket = socket;
    this.#eventName = eventName;
    this.#writer = new RawWriter(socket, batched);
    const reader = new RawFrameReader();
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) =>
      reader.feed(chunk, (payload) => {
        const msg = unpackr.unpack(payload) as RawMessage;
        if (msg.reply_to !== undefined) {
          const done = this.#replies.get(msg.reply_to);
          if (done !== undefined) {
            this.#replies.delete(msg.reply_to);
            done();
          }
          return;
        }
        this.#arrivals.hit();
      }),
    );
  }

  /**
   * Connects to a {@link RawServer}. A full listen backlog (`EAGAIN` on a Unix
   * socket) is retried, as a hand-written program connecting many clients at once would.
   */
  static async connect(address: Address, batched: boolean): Promise<RawClient> {
    if (address.transport === 'nats') throw new Error('no raw baseline over NATS');
    for (let attempt = 0; ; attempt++) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s =
            address.transport === 'unix'
              ? createConnection({ path: address.path })
              : createConnection({ host: address.host, port: address.port });
          s.once('error', reject);
          s.once('connect', () => {
            s.off('error', reject);
            resolve(s);
          });
        });
        socket.setNoDelay(true);
        return new RawClient(socket, address.eventName, batched);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || attempt >= 200) throw err;
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      }
    }
  }

  /** Resets the message counter and expects `count` messages. */
  arm(count: number): void {
    this.#arrivals.arm(count);
  }

  /** Resolves once the armed number of messages arrived. */
  waitCount(): Promise<CountResult> {
    return this.#arrivals.wait();
  }

  #request(data: Record<string, unknown>): Promise<void> {
    const id = `r${++this.#seq}`;
    return new Promise((resolve) => {
      this.#replies.set(id, resolve);
      this.#writer.write(rawFrame(this.#eventName, data, id));
    });
  }

  /** `warmup` then `count` sequential request/reply round trips; the measured round trips in µs. */
  requests(count: number, warmup: number, data: Record<string, unknown>): Promise<number[]> {
    return timeRoundTrips(() => this.#request(data), count, warmup);
  }

  /** Writes `count` messages, yielding to the event loop every `batchBytes`. */
  async write(count: number, data: Record<string, unknown>, batchBytes: number): Promise<WriteResult> {
    let frameBytes = 0;
    let since = 0;
    const tStart = hrNow();
    for (let i = 0; i < count; i++) {
      const frame = rawFrame(this.#eventName, data);
      this.#writer.write(frame);
      frameBytes = frame.length;
      since += frame.length;
      if (since >= batchBytes) {
        since = 0;
        await new Promise((r) => setImmediate(r));
      }
    }
    return { tStart, tEnd: hrNow(), frameBytes };
  }

  /** Closes the connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve());
      this.#socket.end();
      setTimeout(() => this.#socket.destroy(), 1000).unref();
    });
  }
}

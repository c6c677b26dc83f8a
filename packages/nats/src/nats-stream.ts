import { Duplex } from 'node:stream';
import { headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { decodePayload } from '@socketkit/codec';
import { isLibraryError } from '@socketkit/core/internal';
import { ConnectionError, ErrorCode } from '@socketkit/protocol';
import {
  AUTH_HEADER,
  KEY_HEADER,
  authValue,
  parseSeq,
  streamKeys,
  unwrapGrant,
  verifyAuth,
  wrapGrant,
  type BroadcastGrant,
  type StreamKeys,
} from './frame-auth.js';

/** Most bytes of broadcasts a client stream holds while it waits for the server's first frame (8 MiB). */
export const MAX_HELD_BROADCAST_BYTES = 8 * 1024 * 1024;

/**
 * What one held broadcast counts against {@link MAX_HELD_BROADCAST_BYTES}
 * besides its bytes (256): its objects cost ~150 bytes of heap, so a flood of
 * 5-byte publishes counted by payload alone held ~1.7 million of them (~260 MB).
 */
export const HELD_ENTRY_OVERHEAD = 256;

/** An empty NATS message on a stream subject means "end of stream" (FIN). */
export const FIN = new Uint8Array(0);

/** Bytes of `max_payload` kept free for the headers of an authenticated message (`Sk-Auth`, `Sk-Key`). */
export const AUTH_HEADROOM = 256;

/** How a stream authenticates its messages on token sessions (see frame-auth.ts). */
export interface StreamSecurity {
  /** Which end of the stream this is. */
  role: 'server' | 'client';
  /**
   * Client streams of a token client: broadcasts are held until the
   * broadcast key arrives with the welcome, and then taken only when
   * authenticated under it (never bare).
   */
  expectAuth?: boolean;
  /** Server streams: the broadcast key and the broadcast seq so far, read when the client is authenticated. */
  grant?: () => BroadcastGrant;
  /** Called for every message dropped because it is not authenticated (the caller rate-limits reports). */
  onReject(reason: string, subject: string, bytes: number): void;
}

interface Held {
  data: Buffer;
  auth: string;
}

const NO_BROADCAST_KEY =
  "the server's authenticated welcome brought no broadcast key, so its broadcasts cannot be authenticated " +
  '(a socketkit server of another version?): run the same version on both sides';

/**
 * True when `data` is an end of stream (empty) or holds nothing but library
 * ERROR frames (a server's refusal): what a server may still send bare to a
 * token client that already keyed itself.
 */
function isRefusal(data: Uint8Array): boolean {
  if (data.length === 0) return true;
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  while (pos < b.length) {
    if (b.length - pos < 4) return false;
    const size = b.readUInt32BE(pos);
    if (size === 0 || pos + 4 + size > b.length) return false;
    try {
      if (!isLibraryError(decodePayload(b.subarray(pos + 4, pos + 4 + size)))) return false;
    } catch {
      return false;
    }
    pos += 4 + size;
  }
  return true;
}

/** What a held broadcast counts against {@link MAX_HELD_BROADCAST_BYTES}. */
function heldCost(bytes: number, auth: string): number {
  return bytes + auth.length + HELD_ENTRY_OVERHEAD;
}

/**
 * One socketkit connection tunnelled over NATS subjects: bytes written are
 * published to `outSubject` (each write, or a `writev` batch, becomes one NATS
 * message of whole frames, split to respect the server's max_payload); bytes
 * published by the peer to our inbound subject are pushed with `deliver()`.
 * `end()` publishes an empty message, which the peer reads as end of stream.
 *
 * On token sessions the engine calls {@link NatsStream.authenticated} once the
 * peer proved the token: from then on every message published carries an
 * GMAC tag under a key of this session (`Sk-Auth`), and messages from the peer
 * are taken only with a valid one and a newer seq (see frame-auth.ts).
 */
export class NatsStream extends Duplex {
  readonly #nc: NatsConnection;
  readonly #out: string;
  readonly #maxPayload: number;
  readonly #onGone: () => void;
  readonly #security: StreamSecurity | undefined;
  #finSent = false;
  /**
   * Client streams: broadcasts held until the server's first frame (token clients: until the broadcast key); undefined
   * once released.
   */
  #held: Array<Held | undefined> | undefined;
  /** Index of the oldest held broadcast still kept (those before it were dropped past the bound). */
  #heldHead = 0;
  #heldBytes = 0;
  /** Keys of this session, once authenticated. */
  #keys: StreamKeys | undefined;
  /** Bytes handed to _write/_writev so far. */
  #flushed = 0;
  /** Bytes written from this offset on are authenticated. */
  #txFrom = Number.POSITIVE_INFINITY;
  #txSeq = 0;
  /** Server: the wrapped broadcast grant, sent with the first authenticated message. */
  #grantValue: string | undefined;
  /** Highest seq seen from the peer (verified once keyed). */
  #rxSeq = 0;
  /** Once keyed and the peer's messages are authenticated: a bare message is dropped. */
  #rxStrict = false;
  /** Client: the broadcast key, the seq of the welcome, and the last broadcast seq taken. */
  #bcast: { key: Buffer; start: number; last: number } | undefined;
  /** Token client: the server's first authenticated message (its welcome) brought no broadcast key; it never will. */
  #noBroadcastKey = false;

  constructor(
    nc: NatsConnection,
    outSubject: string,
    onGone: () => void,
    allowHalfOpen: boolean,
    holdBroadcasts = false,
    security?: StreamSecurity,
  ) {
    super({ allowHalfOpen });
    this.#nc = nc;
    this.#out = outSubject;
    this.#maxPayload = nc.info?.max_payload ?? 1024 * 1024;
    this.#onGone = onGone;
    this.#security = security;
    if (holdBroadcasts) this.#held = [];
  }

  /**
   * The engine's hook (token sessions): the peer proved the token. Messages
   * with what is written from now on are authenticated, and the peer's are
   * verified; a server stream sends the broadcast key with the next message
   * (the welcome).
   */
  authenticated(sessionKey: Buffer): void {
    const sec = this.#security;
    if (sec === undefined || this.#keys !== undefined) return;
    const keys = streamKeys(sessionKey, sec.role);
    this.#keys = keys;
    this.#txFrom = this.#flushed + this.writableLength;
    // The peer already authenticates (a client's auth_proof is its first authenticated message): from
    // now on a bare message is dropped. A client's server may still refuse it with bare frames until
    // its first authenticated one (the welcome).
    if (this.#rxSeq > 0) this.#rxStrict = true;
    if (sec.grant !== undefined) this.#grantValue = wrapGrant(keys.wrap, sec.grant());
  }

  /** Feeds one message published by the peer on our inbound subject; an empty payload ends the readable side. */
  deliver(data: Uint8Array, hdrs?: MsgHdrs): void {
    if (this.destroyed || this.readableEnded) return;
    const auth = hdrs?.get(AUTH_HEADER) ?? '';
    const keys = this.#keys;
    if (keys !== undefined) {
      if (auth !== '') {
        const extra = hdrs?.get(KEY_HEADER) ?? '';
        const seq = verifyAuth(keys.in, auth, data, extra);
        if (seq === 0 || seq <= this.#rxSeq) {
          this.#reject(
            seq === 0 ? 'its authentication does not verify (forged)' : 'it was taken before (replayed)',
            data.length,
          );
          return;
        }
        this.#rxSeq = seq;
        this.#rxStrict = true;
        if (extra !== '' && this.#bcast === undefined && this.#security?.role === 'client') {
          const grant = unwrapGrant(keys.wrap, extra);
          if (grant !== undefined) this.#bcast = { key: grant.key, start: grant.seq, last: grant.seq };
        }
        // The key comes only with the server's first authenticated message: without it, the server's broadcasts
        // can never be verified: dropped and reported, not held for ever.
        if (this.#bcast === undefined && this.#security?.expectAuth === true) this.#noBroadcastKey = true;
      } else if (this.#rxStrict) {
        this.#reject('it is not authenticated', data.length);
        return;
      } else if (this.#security?.expectAuth === true && !isRefusal(data)) {
        // A token client that proved the server: the server keys itself before its welcome, so from now on only a
        // refusal it sent before keying (a timeout) or an end of stream may come bare. A bare welcome or data would
        // be a forger's on c.<id> (or a server older than this client, which cannot serve a token client).
        this.#reject(
          "it is not authenticated and arrived before the server's authenticated welcome (a forged welcome or data?)",
          data.length,
        );
        return;
      }
    } else if (auth !== '' && this.#security?.role === 'server' && parseSeq(auth) > 0) {
      // Authenticated before we are keyed: a client's auth_proof, always its seq 1 (verified from the next one on).
      // The claim is not verified, so it never counts beyond 1: a publisher on s.<id> claiming a larger seq
      // would otherwise make the server drop every later message of the client as a replay. (A client stream
      // is keyed before the server's first authenticated message, the welcome: it takes no such claim.)
      this.#rxSeq = 1;
    }
    if (
      this.#held !== undefined &&
      (this.#security?.expectAuth !== true || this.#bcast !== undefined || this.#noBroadcastKey)
    ) {
      // The peer's first frame (welcome, or a refusal) comes first; then what was held.
      const held = this.#held;
      const head = this.#heldHead;
      this.#held = undefined;
      this.#heldBytes = 0;
      this.#heldHead = 0;
      this.#pushBytes(data);
      for (let i = head; i < held.length; i++) {
        const h = held[i] as Held;
        if (this.destroyed || this.readableEnded) break;
        if (this.#bcast !== undefined) this.#takeBroadcast(h.data, h.auth);
        else if (this.#noBroadcastKey) this.#reject(NO_BROADCAST_KEY, h.data.length);
        else this.#pushBytes(h.data);
      }
      return;
    }
    this.#pushBytes(data);
  }

  /**
   * Feeds one broadcast (the event's shared subject). On a client stream,
   * broadcasts that arrive before the server's first frame on the stream's
   * own subject are held (NATS orders messages per subject, not across
   * subjects), so a client sees its welcome before any broadcast, as on unix
   * and tcp. Held bytes are bounded by {@link MAX_HELD_BROADCAST_BYTES}.
   * A token client holds them until the welcome brought the broadcast key,
   * then takes only those authenticated under it with a newer seq.
   */
  deliverBroadcast(data: Uint8Array, hdrs?: MsgHdrs): void {
    if (this.destroyed || this.readableEnded || data.length === 0) return;
    if (this.#security?.expectAuth === true) {
      const auth = hdrs?.get(AUTH_HEADER) ?? '';
      if (auth === '') {
        this.#reject('a broadcast without authentication reached a token session', data.length);
        return;
      }
      if (this.#bcast !== undefined) {
        this.#takeBroadcast(data, auth);
        return;
      }
      if (this.#noBroadcastKey) {
        this.#reject(NO_BROADCAST_KEY, data.length);
        return;
      }
      // Not welcomed yet: held, oldest dropped past the bound (a publisher cannot end the stream with them).
      const held = this.#held ?? (this.#held = []);
      held.push({ data: Buffer.from(data), auth });
      this.#heldBytes += heldCost(data.length, auth);
      // Dropped by moving the head (shift() is linear in what is held), compacted once half is dropped.
      while (this.#heldBytes > MAX_HELD_BROADCAST_BYTES && this.#heldHead < held.length) {
        const dropped = held[this.#heldHead] as Held;
        held[this.#heldHead++] = undefined;
        this.#heldBytes -= heldCost(dropped.data.length, dropped.auth);
        this.#reject(
          `more than ${MAX_HELD_BROADCAST_BYTES} bytes of broadcasts arrived before the welcome`,
          dropped.data.length,
        );
      }
      if (this.#heldHead * 2 > held.length) {
        held.splice(0, this.#heldHead);
        this.#heldHead = 0;
      }
      return;
    }
    if (this.#held === undefined) {
      this.#pushBytes(data);
      return;
    }
    this.#heldBytes += heldCost(data.length, '');
    if (this.#heldBytes > MAX_HELD_BROADCAST_BYTES) {
      this.destroy(
        new ConnectionError(
          ErrorCode.CONNECTION_LOST,
          `more than ${MAX_HELD_BROADCAST_BYTES} bytes of broadcasts arrived before the server's ` +
            `welcome on ${this.#out}: the server is not answering this stream`,
        ),
      );
      return;
    }
    this.#held.push({ data: Buffer.from(data), auth: '' });
  }

  /** Token client, broadcast key known: takes an authenticated broadcast with a newer seq. */
  #takeBroadcast(data: Uint8Array, auth: string): void {
    const b = this.#bcast as { key: Buffer; start: number; last: number };
    const seq = verifyAuth(b.key, auth, data);
    if (seq === 0) {
      this.#reject('a broadcast whose authentication does not verify (forged)', data.length);
      return;
    }
    if (seq <= b.last) {
      // Published before this client's welcome: not for it, as on unix and tcp. Later than that: a replay.
      if (seq > b.start) this.#reject('a broadcast taken before (replayed)', data.length);
      return;
    }
    b.last = seq;
    this.#pushBytes(data);
  }

  #reject(reason: string, bytes: number): void {
    this.#security?.onReject(reason, this.#out, bytes);
  }

  #pushBytes(data: Uint8Array): void {
    if (data.length === 0) this.push(null);
    else this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  override _read(): void {
    // push-based: NATS delivers whenever messages arrive
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#publish([chunk], cb);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.#publish(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  #publish(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    try {
      let batch: Buffer[] = [];
      let size = 0;
      let secure = false;
      let offset = this.#flushed;
      const flush = (): void => {
        if (batch.length === 0) return;
        const data = batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, size);
        if (secure) this.#publishAuthenticated(data);
        else this.#nc.publish(this.#out, data);
        batch = [];
        size = 0;
      };
      for (const c of chunks) {
        const s = offset >= this.#txFrom;
        if (s !== secure) {
          flush();
          secure = s;
        }
        if (size + c.length > (secure ? this.#maxPayload - AUTH_HEADROOM : this.#maxPayload)) flush();
        batch.push(c);
        size += c.length;
        offset += c.length;
      }
      flush();
      this.#flushed = offset;
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  /** Publishes one message with `Sk-Auth` (and, once, the broadcast key). */
  #publishAuthenticated(data: Uint8Array): void {
    const keys = this.#keys as StreamKeys;
    const seq = ++this.#txSeq;
    const h = headers();
    const extra = this.#grantValue ?? '';
    if (extra !== '') {
      h.set(KEY_HEADER, extra);
      this.#grantValue = undefined;
    }
    h.set(AUTH_HEADER, authValue(keys.out, seq, data, extra));
    this.#nc.publish(this.#out, data, { headers: h });
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#sendFin();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#sendFin();
    this.#onGone();
    cb(err);
  }

  #sendFin(): void {
    if (this.#finSent) return;
    this.#finSent = true;
    try {
      if (this.#nc.isClosed()) return;
      if (this.#keys !== undefined) this.#publishAuthenticated(FIN);
      else this.#nc.publish(this.#out, FIN);
    } catch {
      // connection already closing: the peer's heartbeat will notice
    }
  }
}

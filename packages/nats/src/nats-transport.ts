import { randomUUID } from 'node:crypto';
import {
  connect,
  createInbox,
  headers,
  type NatsConnection,
  type NodeConnectionOptions,
  type Subscription,
} from '@nats-io/transport-node';
import { decodePayload } from '@socketkit/codec';
import type { ClientTransport, ServerTransport, TransportStream } from '@socketkit/core';
import { isLibraryError } from '@socketkit/core/internal';
import { ConnectionError, ErrorCode, MessageError, ValidationError } from '@socketkit/protocol';
import { AUTH_HEADER, authValue, newBroadcastKey } from './frame-auth.js';
import { AUTH_HEADROOM, FIN, NatsStream, type StreamSecurity } from './nats-stream.js';
import { subjectsFor, type EventSubjects } from './subjects.js';

/** Default NATS server URL (env `SOCKET_NATS_SERVERS` overrides, comma-separated). */
export const DEFAULT_NATS_SERVERS = 'nats://127.0.0.1:4222';

/**
 * Most bytes of broadcast frames published as one NATS message (16 KiB; a
 * larger frame goes alone). A subscriber's nats.js copies a message that
 * spans several reads into a buffer it grows by doubling: with batches up to
 * max_payload that copying was the largest cost of a fan-out client; with
 * 16 KiB batches fan-out to 10 clients delivers more per CPU second.
 */
export const NATS_BROADCAST_BATCH = 16 * 1024;

/** Where and how to reach NATS. */
export interface NatsLinkOptions {
  eventName: string;
  /** NATS server URL(s). */
  servers: string | string[];
  /** Subject prefix (default `socketkit`). */
  subjectPrefix?: string;
  /** Extra options for `@nats-io/transport-node`'s `connect()` (auth, TLS, reconnect...). */
  natsOptions?: Partial<NodeConnectionOptions>;
  /** An explicitly configured `maxMessageSize`: `listen()` fails when the broker cannot carry it. */
  maxMessageSize?: number;
  /**
   * Called with what a stray publish looked like when one is discarded (not
   * whole frames, a zero-length frame or a library ERROR on the broadcast
   * subject, or on token sessions a message that is not authenticated:
   * `UNAUTHENTICATED_FRAME`). At most one call per {@link DISCARD_REPORT_INTERVAL_MS}
   * and kind; the next one says how many were discarded in between.
   */
  onDiscard?: (error: MessageError) => void;
  /**
   * The engine authenticates with a token: the server authenticates every
   * message it publishes once a client proved the token (broadcasts under a
   * broadcast key, stream messages under the session's key), and a client
   * takes only such messages (see PROTOCOL.md, "NATS").
   */
  token?: boolean;
}

/** Most often a kind of discarded publish is reported (1 s); the rest are counted into the next report. */
export const DISCARD_REPORT_INTERVAL_MS = 1000;

/** Reports discards at most once per interval and code, counting the rest into the next report. */
class DiscardReporter {
  readonly #report: ((error: MessageError) => void) | undefined;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(report: ((error: MessageError) => void) | undefined) {
    this.#report = report;
  }

  report(code: ErrorCode, text: string, details: Record<string, unknown>): void {
    if (this.#report === undefined) return;
    const now = Date.now();
    const last = this.#last.get(code);
    if (last !== undefined && now - last.at < DISCARD_REPORT_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    const more = last?.suppressed ?? 0;
    this.#last.set(code, { at: now, suppressed: 0 });
    const tail = more > 0 ? ` (and ${more} more discarded since the last report)` : '';
    this.#report(new MessageError(code, `${text}${tail}`, { details: { ...details, suppressed: more } }));
  }
}

/** Bytes of a frame's length prefix. */
const HEADER = 4;

/**
 * True when `data` is a sequence of whole frames (each length prefix followed
 * by exactly that many bytes). socketkit publishes only whole frames, so
 * anything else on a socketkit subject is a stray publish: delivering it
 * would misalign the reader's framing and freeze it.
 */
export function isWholeFrames(data: Uint8Array): boolean {
  let pos = 0;
  while (pos < data.length) {
    if (data.length - pos < HEADER) return false;
    const size = ((data[pos]! << 24) >>> 0) + (data[pos + 1]! << 16) + (data[pos + 2]! << 8) + data[pos + 3]!;
    pos += HEADER + size;
  }
  return pos === data.length;
}

const ORIGIN = Buffer.from('origin');
const SOCKETKIT = Buffer.from('socketkit');

/**
 * Why a publish on the broadcast subject must not reach clients, or
 * undefined when it may: it is not whole frames (it would misalign every
 * reader's framing), holds a zero-length frame (the framing's end of stream)
 * or a library ERROR (a server never broadcasts one: a forged `UNAUTHORIZED`
 * would close every client for good). A batch that lacks the bytes `origin`
 * or the bytes `socketkit` holds no library ERROR (a cheap search: msgpack
 * keeps strings as raw UTF-8); otherwise its frames that hold `origin` are
 * decoded to look.
 */
export function broadcastProblem(data: Uint8Array): string | undefined {
  let pos = 0;
  while (pos < data.length) {
    if (data.length - pos < HEADER) return 'is not whole socketkit frames';
    const size = ((data[pos]! << 24) >>> 0) + (data[pos + 1]! << 16) + (data[pos + 2]! << 8) + data[pos + 3]!;
    if (size === 0) return 'holds a zero-length frame (end of stream)';
    pos += HEADER + size;
  }
  if (pos !== data.length) return 'is not whole socketkit frames';
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.indexOf(ORIGIN) < 0 || b.indexOf(SOCKETKIT) < 0) return undefined;
  for (pos = 0; pos < data.length; ) {
    const size = b.readUInt32BE(pos);
    const payload = b.subarray(pos + HEADER, pos + HEADER + size);
    pos += HEADER + size;
    if (payload.indexOf(ORIGIN) < 0) continue;
    try {
      if (isLibraryError(decodePayload(payload))) return 'holds a library ERROR (servers never broadcast one)';
    } catch {
      // an invalid message: the client skips it (INVALID_MESSAGE), it ends nothing
    }
  }
  return undefined;
}

function securityFor(
  role: 'server' | 'client',
  reporter: DiscardReporter,
  extra: Partial<StreamSecurity> = {},
): StreamSecurity {
  return {
    role,
    ...extra,
    onReject: (reason, subject, bytes) =>
      reporter.report(
        ErrorCode.UNAUTHENTICATED_FRAME,
        `discarded a message of ${bytes} bytes for ${subject} on a token session: ${reason}; someone other than ` +
          "the socketkit peer publishes on the event's subjects: restrict publish rights (see the NATS permissions " +
          "in @socketkit/nats's README)",
        { subject, bytes, reason },
      ),
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const PROBE = 'probe';
const ID_PATTERN = /^[A-Za-z0-9]{8,64}$/;

function serverList(servers: string | string[]): string {
  return Array.isArray(servers) ? servers.join(',') : servers;
}

/** Opens a NATS connection or throws a ConnectionError that names the servers. */
async function openNats(o: NatsLinkOptions, role: string): Promise<NatsConnection> {
  try {
    return await connect({
      servers: o.servers,
      name: `socketkit-${role}-${o.eventName}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...o.natsOptions,
    });
  } catch (cause) {
    const e = cause as { name?: string; message?: string };
    if (e.name === 'AuthorizationError' || /authori[sz]ation|authentication/i.test(e.message ?? '')) {
      throw new ConnectionError(
        ErrorCode.UNAUTHORIZED,
        `NATS at ${serverList(o.servers)} refused the credentials for event "${o.eventName}" ` +
          `(${e.message ?? 'authorization violation'}): pass the user/password, token or nkey NATS ` +
          'expects in natsOptions',
        { cause, details: { servers: o.servers } },
      );
    }
    throw new ConnectionError(
      ErrorCode.SERVER_NOT_RUNNING,
      `cannot reach NATS at ${serverList(o.servers)} for event "${o.eventName}": ${(cause as Error).message}; start ` +
        `nats-server or pass the right servers`,
      { cause, details: { servers: o.servers } },
    );
  }
}

/** Drains (flushing what was published), or just closes when NATS is unreachable: stopping never fails. */
async function closeQuietly(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  try {
    await nc.drain();
  } catch {
    await nc.close().catch(() => undefined);
  }
}

function describeLink(o: NatsLinkOptions, s: EventSubjects): string {
  return `${serverList(o.servers)} ${s.connect.slice(0, -'.connect'.length)}`;
}

/** `promise`, or `signal.reason` as soon as `signal` aborts. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Server half over NATS. Clients open a stream with a request on
 * `<prefix>.<event>.connect`; stream bytes travel on `.s.<id>` (to the
 * server) and `.c.<id>` (to that client); broadcasts are one publish on
 * `.all`, fanned out by NATS.
 */
export class NatsServerTransport implements ServerTransport {
  readonly kind = 'nats';
  readonly #o: NatsLinkOptions;
  readonly #s: EventSubjects;
  #nc: NatsConnection | undefined;
  #subs: Subscription[] = [];
  readonly #streams = new Map<string, NatsStream>();
  #emptied: (() => void) | undefined;
  readonly #pending: Uint8Array[] = [];
  readonly #reporter: DiscardReporter;
  /** This instance's broadcast key (token servers authenticate every broadcast batch under it). */
  readonly #broadcastKey = newBroadcastKey();
  /** Broadcast batches published so far (the seq of the last one). */
  #broadcastSeq = 0;

  constructor(options: NatsLinkOptions) {
    this.#o = options;
    this.#s = subjectsFor(options.eventName, options.subjectPrefix);
    this.#reporter = new DiscardReporter(options.onDiscard);
  }

  address(): string {
    return describeLink(this.#o, this.#s);
  }

  async listen(onConnection: (stream: TransportStream) => void): Promise<void> {
    const nc = await openNats(this.#o, 'server');
    try {
      await nc.request(this.#s.connect, encoder.encode(PROBE), { timeout: 1000 });
      await nc.close();
      throw new ConnectionError(
        ErrorCode.ADDRESS_IN_USE,
        `a socketkit server for event "${this.#o.eventName}" already answers on ${this.address()}: stop it first or ` +
          `use another subjectPrefix`,
      );
    } catch (err) {
      if (err instanceof ConnectionError) throw err;
      // no responders (or no answer): the event is free
    }
    const prefixLength = this.#s.toServer('').length;
    this.#subs.push(
      nc.subscribe(this.#s.connect, {
        callback: (_err, msg) => {
          const id = decoder.decode(msg.data);
          if (id === PROBE) {
            msg.respond(encoder.encode('in-use'));
            return;
          }
          if (!ID_PATTERN.test(id)) return;
          if (!this.#streams.has(id)) {
            const stream = new NatsStream(
              nc,
              this.#s.toClient(id),
              () => this.#gone(id),
              true,
              false,
              securityFor('server', this.#reporter, {
                grant: () => ({ key: this.#broadcastKey, seq: this.#broadcastSeq }),
              }),
            );
            this.#streams.set(id, stream);
            onConnection(stream);
          }
          msg.respond(encoder.encode('ok'));
        },
      }),
      nc.subscribe(this.#s.toServer('*'), {
        callback: (_err, msg) => {
          const id = msg.subject.slice(prefixLength);
          const stream = this.#streams.get(id);
          if (stream !== undefined) stream.deliver(msg.data, msg.headers);
          // a peer from before a restart: tell it its stream is gone so it reconnects
          else if (msg.data.length > 0) nc.publish(this.#s.toClient(id), FIN);
        },
      }),
    );
    await nc.flush();
    // With a token, authenticated messages carry headers, which count toward max_payload.
    const limit = (nc.info?.max_payload ?? 1024 * 1024) - HEADER - (this.#o.token === true ? AUTH_HEADROOM : 0);
    if (this.#o.maxMessageSize !== undefined && this.#o.maxMessageSize > limit) {
      for (const sub of this.#subs.splice(0)) sub.unsubscribe();
      await closeQuietly(nc);
      throw new ValidationError(
        ErrorCode.INVALID_CONFIG,
        `maxMessageSize ${this.#o.maxMessageSize} is larger than this NATS server carries ` +
          `(max_payload ${nc.info?.max_payload} − ${nc.info === undefined ? 0 : nc.info.max_payload - limit}` +
          `${this.#o.token === true ? ' (frame header and authentication headers)' : ''} = ${limit} bytes): lower ` +
          `maxMessageSize or ` +
          'raise max_payload in nats-server',
        { details: { key: 'maxMessageSize', value: this.#o.maxMessageSize, maxPayload: nc.info?.max_payload } },
      );
    }
    this.#limit = limit;
    this.#nc = nc;
  }

  #limit: number | undefined;

  /** `max_payload` − 4 of the NATS server, once listening. */
  maxPayload(): number | undefined {
    return this.#limit;
  }

  /**
   * Broadcast frames are queued and published on the next tick, in NATS
   * messages of at most {@link NATS_BROADCAST_BATCH} bytes: the same tick in which each connection's batched
   * frames are flushed, so a unicast sent before a broadcast is published before it.
   */
  broadcast(frame: Uint8Array): void {
    this.#pending.push(frame);
    if (this.#pending.length === 1) process.nextTick(this.#flushBroadcast);
  }

  readonly #flushBroadcast = (): void => {
    const nc = this.#nc;
    const frames = this.#pending.splice(0);
    if (nc === undefined || nc.isClosed()) return;
    const token = this.#o.token === true;
    const max = Math.min((nc.info?.max_payload ?? 1024 * 1024) - (token ? AUTH_HEADROOM : 0), NATS_BROADCAST_BATCH);
    let batch: Uint8Array[] = [];
    let size = 0;
    const publish = (): void => {
      try {
        if (batch.length > 0) {
          const data = batch.length === 1 ? (batch[0] as Uint8Array) : Buffer.concat(batch, size);
          const seq = ++this.#broadcastSeq;
          if (!token) nc.publish(this.#s.all, data);
          else {
            // One tag per batch (at most 16 KiB), under the key token clients got with their welcome.
            const h = headers();
            h.set(AUTH_HEADER, authValue(this.#broadcastKey, seq, data));
            nc.publish(this.#s.all, data, { headers: h });
          }
        }
      } catch {
        // NATS is unreachable right now: core NATS is at-most-once, these broadcasts are lost (documented)
      }
      batch = [];
      size = 0;
    };
    for (const f of frames) {
      if (size + f.length > max) publish();
      batch.push(f);
      size += f.length;
    }
    publish();
  };

  async close(): Promise<void> {
    const nc = this.#nc;
    if (nc === undefined) return;
    this.#flushBroadcast(); // what was sent before stop() still goes out, ahead of the streams' ends
    this.#nc = undefined;
    this.#subs.shift()?.unsubscribe(); // stop accepting
    if (this.#streams.size > 0) await new Promise<void>((resolve) => (this.#emptied = resolve));
    for (const sub of this.#subs.splice(0)) sub.unsubscribe();
    await closeQuietly(nc);
  }

  #gone(id: string): void {
    this.#streams.delete(id);
    if (this.#streams.size === 0) this.#emptied?.();
  }
}

/** Client half over NATS: one NATS connection per client, reused across reconnects. */
export class NatsClientTransport implements ClientTransport {
  readonly kind = 'nats';
  readonly #o: NatsLinkOptions;
  readonly #s: EventSubjects;
  #nc: Promise<NatsConnection> | undefined;
  #current: NatsStream | undefined;
  readonly #reporter: DiscardReporter;

  constructor(options: NatsLinkOptions) {
    this.#o = options;
    this.#s = subjectsFor(options.eventName, options.subjectPrefix);
    this.#reporter = new DiscardReporter(options.onDiscard);
  }

  address(): string {
    return describeLink(this.#o, this.#s);
  }

  #connection(): Promise<NatsConnection> {
    if (this.#nc === undefined) {
      this.#nc = openNats(this.#o, 'client').then((nc) => {
        nc.subscribe(this.#s.all, {
          callback: (_err, msg) => {
            // Each socketkit publish carries whole frames; anything else would freeze every client's framing,
            // a zero-length frame would end its stream and a library ERROR could close it for good.
            const problem = broadcastProblem(msg.data);
            if (problem === undefined) this.#current?.deliverBroadcast(msg.data, msg.headers);
            else
              this.#reporter.report(
                ErrorCode.INVALID_MESSAGE,
                `discarded a publish of ${msg.data.length} bytes on ${msg.subject} that ${problem} (a stray ` +
                  `publisher on the event's subjects?)`,
                { subject: msg.subject, bytes: msg.data.length },
              );
          },
        });
        return nc;
      });
      this.#nc.catch(() => (this.#nc = undefined));
    }
    return this.#nc;
  }

  /**
   * Opens a stream: a connect request answered by the server. Honours
   * `signal` at every step (the client's connect timeout, or disconnect()):
   * an abort rejects at once with `signal.reason`, and a stream the server
   * opened for an aborted attempt is ended (FIN), never left open. There is
   * no timeout of its own: the caller's signal is the timeout.
   */
  async connect(signal: AbortSignal): Promise<TransportStream> {
    if (signal.aborted) throw signal.reason;
    const nc = await raceSignal(this.#connection(), signal);
    const id = randomUUID().replace(/-/g, '');
    let sub: Subscription | undefined;
    const stream: NatsStream = new NatsStream(
      nc,
      this.#s.toServer(id),
      () => {
        sub?.unsubscribe();
        if (this.#current === stream) this.#current = undefined;
      },
      false,
      true,
      securityFor('client', this.#reporter, { expectAuth: this.#o.token === true }),
    );
    // A stream subject is one peer's own: a bad publish there breaks only that stream's framing (and the frame timeout
    // ends it).
    sub = nc.subscribe(this.#s.toClient(id), { callback: (_err, msg) => stream.deliver(msg.data, msg.headers) });
    // The answer comes to a one-shot inbox, so an abort can stop waiting at once
    // (nats.js requests cannot be cancelled, only timed out).
    const inbox = createInbox();
    let answerSub: Subscription | undefined;
    const answer = new Promise<'ok' | 'no-responders'>((resolve) => {
      answerSub = nc.subscribe(inbox, {
        max: 1,
        callback: (_err, msg) => resolve(msg.headers?.code === 503 ? 'no-responders' : 'ok'),
      });
    });
    this.#current = stream; // broadcasts may arrive right behind the answer
    try {
      nc.publish(this.#s.connect, encoder.encode(id), { reply: inbox, headers: headers() });
      const outcome = await raceSignal(answer, signal);
      if (outcome === 'no-responders') {
        throw new ConnectionError(
          ErrorCode.SERVER_NOT_RUNNING,
          `no socketkit server for event "${this.#o.eventName}" answers on ${this.address()}: start the server (it ` +
            `may be connected to another NATS cluster)`,
        );
      }
    } catch (err) {
      answerSub?.unsubscribe();
      stream.destroy(); // FIN: a server that accepted this attempt closes its end
      throw err;
    }
    return stream;
  }

  async close(): Promise<void> {
    this.#current?.destroy();
    const pending = this.#nc;
    this.#nc = undefined;
    if (pending === undefined) return;
    const nc = await pending.catch(() => undefined);
    if (nc !== undefined) await closeQuietly(nc);
  }
}

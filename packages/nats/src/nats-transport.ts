import { randomUUID } from 'node:crypto';
import { connect, createInbox, headers, type NatsConnection, type NodeConnectionOptions, type Subscription } from '@nats-io/transport-node';
import type { ClientTransport, ServerTransport, TransportStream } from '@socketkit/core';
import { ConnectionError, ErrorCode, MessageError, ValidationError } from '@socketkit/protocol';
import { FIN, NatsStream } from './nats-stream.js';
import { subjectsFor, type EventSubjects } from './subjects.js';

/** Default NATS server URL (env `SOCKET_NATS_SERVERS` overrides, comma-separated). */
export const DEFAULT_NATS_SERVERS = 'nats://127.0.0.1:4222';

/**
 * Most bytes of broadcast frames published as one NATS message (16 KiB; a
 * larger frame goes alone). A subscriber's nats.js copies a message that
 * spans several reads into a buffer it grows by doubling: with batches up to
 * max_payload that copying was the largest cost of a fan-out client; with
 * 16 KiB batches fan-out to 10 clients delivered ~20 % more per CPU second.
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
  /** Called with what a stray publish looked like when one is discarded (not whole frames). */
  onDiscard?: (error: MessageError) => void;
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

function stray(subject: string, data: Uint8Array): MessageError {
  return new MessageError(
    ErrorCode.INVALID_MESSAGE,
    `discarded a publish of ${data.length} bytes on ${subject} that is not whole socketkit frames (a stray publisher on the event's subjects?)`,
    { details: { subject, bytes: data.length } },
  );
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
      `cannot reach NATS at ${serverList(o.servers)} for event "${o.eventName}": ${(cause as Error).message}; start nats-server or pass the right servers`,
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

  constructor(options: NatsLinkOptions) {
    this.#o = options;
    this.#s = subjectsFor(options.eventName, options.subjectPrefix);
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
        `a socketkit server for event "${this.#o.eventName}" already answers on ${this.address()}: stop it first or use another subjectPrefix`,
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
            const stream = new NatsStream(nc, this.#s.toClient(id), () => this.#gone(id), true);
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
          if (stream !== undefined) stream.deliver(msg.data);
          // a peer from before a restart: tell it its stream is gone so it reconnects
          else if (msg.data.length > 0) nc.publish(this.#s.toClient(id), FIN);
        },
      }),
    );
    await nc.flush();
    const limit = (nc.info?.max_payload ?? 1024 * 1024) - HEADER;
    if (this.#o.maxMessageSize !== undefined && this.#o.maxMessageSize > limit) {
      for (const sub of this.#subs.splice(0)) sub.unsubscribe();
      await closeQuietly(nc);
      throw new ValidationError(
        ErrorCode.INVALID_CONFIG,
        `maxMessageSize ${this.#o.maxMessageSize} is larger than this NATS server carries ` +
          `(max_payload ${limit + HEADER} − ${HEADER} = ${limit} bytes): lower maxMessageSize or ` +
          'raise max_payload in nats-server',
        { details: { key: 'maxMessageSize', value: this.#o.maxMessageSize, maxPayload: limit + HEADER } },
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
    const max = Math.min(nc.info?.max_payload ?? 1024 * 1024, NATS_BROADCAST_BATCH);
    let batch: Uint8Array[] = [];
    let size = 0;
    const publish = (): void => {
      try {
        if (batch.length > 0) nc.publish(this.#s.all, batch.length === 1 ? (batch[0] as Uint8Array) : Buffer.concat(batch, size));
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

  constructor(options: NatsLinkOptions) {
    this.#o = options;
    this.#s = subjectsFor(options.eventName, options.subjectPrefix);
  }

  address(): string {
    return describeLink(this.#o, this.#s);
  }

  #connection(): Promise<NatsConnection> {
    if (this.#nc === undefined) {
      this.#nc = openNats(this.#o, 'client').then((nc) => {
        nc.subscribe(this.#s.all, {
          callback: (_err, msg) => {
            // Each socketkit publish carries whole frames; anything else would freeze every client's framing.
            if (!isWholeFrames(msg.data)) this.#o.onDiscard?.(stray(msg.subject, msg.data));
            else this.#current?.deliverBroadcast(msg.data);
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
    );
    // A stream subject is one peer's own: a bad publish there breaks only that stream's framing (and the frame timeout ends it).
    sub = nc.subscribe(this.#s.toClient(id), { callback: (_err, msg) => stream.deliver(msg.data) });
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
          `no socketkit server for event "${this.#o.eventName}" answers on ${this.address()}: start the server (it may be connected to another NATS cluster)`,
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

/**
 * RPC on JetStream: core request/reply on a subject per identifier; an identifier is held in a KV bucket entry
 * (refreshed while its holder lives, so one communicator of the cluster holds it); a caller probes the recipient's
 * liveness while it waits (`RecipientLost`).
 */
import { type KV, Kvm } from '@nats-io/kv';
import { type Msg, headers as natsHeaders, type Subscription } from '@nats-io/transport-node';
import { packValue, unpackValue } from '@socketkit/codec';
import {
  BrokerErrorCode,
  BrokerUnavailable,
  DuplicateSubscriberIdentifier,
  InvalidRequest,
  type WireError,
} from '../errors.js';
import { type BrokerMessage, Kind } from '../wire.js';
import { isNoResponders, type LinkContext, wire } from './context.js';
import { token } from './names.js';
import { autoReplicas } from './options.js';

/** The header of a liveness probe of an RPC recipient. */
const PING = 'sk-ping';
/**
 * RPC calls one communicator works on at once (the broker's `maxPendingCalls` default); one more is refused with
 * `LimitExceeded`.
 */
const MAX_PENDING_CALLS = 10_000;

/** The RPC identifiers this link holds, the calls they work on, and the calls it makes. */
export class RpcSide {
  readonly #ctx: LinkContext;
  readonly #subs = new Map<string, { sub: Subscription; key: string; revision: number }>();
  readonly #calls = new Map<number, Msg>();
  #nextCall = 0;
  #kv: Promise<KV> | undefined;

  constructor(ctx: LinkContext) {
    this.#ctx = ctx;
  }

  #kvBucket(): Promise<KV> {
    const ctx = this.#ctx;
    this.#kv ??= new Kvm(ctx.js).create(ctx.names.rpcBucket, {
      ttl: ctx.options.rpcTtlMs,
      history: 1,
      replicas: ctx.options.replicas === 'auto' ? autoReplicas(ctx.nc) : ctx.options.replicas,
      storage: ctx.options.storage as never,
    });
    return this.#kv.catch((e: unknown) => {
      this.#kv = undefined;
      throw new BrokerUnavailable(
        `cannot open the RPC identifier bucket ${ctx.names.rpcBucket}: ${(e as Error).message}`,
        { cause: e },
      );
    });
  }

  /** Takes an RPC identifier (its KV entry, or this link's own entry again) and listens on its subject. */
  async hold(identifier: string): Promise<unknown> {
    const ctx = this.#ctx;
    const kv = await this.#kvBucket();
    const key = token(identifier);
    let revision: number;
    try {
      revision = await kv.create(key, ctx.id);
    } catch (e) {
      const entry = await kv.get(key).catch(() => null);
      if (entry === null || entry.operation !== 'PUT')
        throw new BrokerUnavailable(`cannot register RPC identifier "${identifier}": ${(e as Error).message}`, {
          cause: e,
        });
      if (entry.string() !== ctx.id) {
        throw new DuplicateSubscriberIdentifier(
          `RPC identifier "${identifier}" is held by another communicator in the cluster: choose another identifier`,
          {
            cause: e,
            details: { identifier },
          },
        );
      }
      revision = entry.revision;
    }
    const sub = ctx.nc.subscribe(ctx.names.rpc(identifier), { callback: (_e, msg) => this.#onCall(identifier, msg) });
    this.#subs.set(identifier, { sub, key, revision });
    await ctx.nc.flush();
    return null;
  }

  /** Gives an RPC identifier up (its subscription and KV entry). */
  async release(identifier: string): Promise<void> {
    const r = this.#subs.get(identifier);
    if (r !== undefined) {
      this.#subs.delete(identifier);
      r.sub.unsubscribe();
      const kv = await this.#kv;
      await kv?.delete(r.key, { previousSeq: r.revision }).catch(() => undefined);
    }
  }

  /** The link closes: every identifier is given up. */
  async close(): Promise<void> {
    if (this.#subs.size > 0) {
      const kv = await this.#kv;
      await Promise.all(
        [...this.#subs.values()].map(async (r) => {
          r.sub.unsubscribe();
          await kv?.delete(r.key, { previousSeq: r.revision }).catch(() => undefined);
        }),
      );
    }
  }

  /** Refreshes the KV entries of the identifiers held (every third of `rpcTtlMs`). */
  refresh(): void {
    const ctx = this.#ctx;
    if (ctx.closed || this.#subs.size === 0) return;
    void this.#kvBucket().then(
      (kv) => {
        for (const [identifier, r] of this.#subs)
          kv.update(r.key, ctx.id, r.revision).then(
            (rev) => {
              r.revision = rev;
            },
            (e: Error) => {
              if (!/wrong last sequence/i.test(e.message)) return; // a timeout: next round
              // Our entry expired (we were away longer than rpcTtlMs) and someone else took the identifier.
              this.#subs.delete(identifier);
              r.sub.unsubscribe();
              ctx.report(
                new BrokerUnavailable(
                  `lost RPC identifier "${identifier}": it expired while this communicator was away and is held ` +
                    `elsewhere`,
                ),
              );
            },
          );
      },
      () => undefined,
    );
  }

  #onCall(identifier: string, msg: Msg): void {
    const ctx = this.#ctx;
    if (!msg.reply) {
      ctx.report(new InvalidRequest(`a message without reply subject on RPC subject ${msg.subject} was ignored`));
      return;
    }
    if (msg.headers?.get(PING)) {
      msg.respond();
      return;
    }
    let body: unknown;
    try {
      const m = unpackValue(msg.data) as { body?: unknown };
      if (typeof m !== 'object' || m === null) throw new Error('not a map');
      body = m.body;
    } catch (e) {
      msg.respond(
        packValue({
          ok: false,
          error: wire(BrokerErrorCode.INVALID_REQUEST, `malformed RPC request: ${(e as Error).message}`),
        }),
      );
      ctx.report(new InvalidRequest(`a malformed RPC request for "${identifier}" was refused`));
      return;
    }
    if (this.#calls.size >= MAX_PENDING_CALLS) {
      msg.respond(
        packValue({
          ok: false,
          error: wire(
            BrokerErrorCode.LIMIT_EXCEEDED,
            `RPC subscriber "${identifier}" has ${MAX_PENDING_CALLS} calls in flight: try again later`,
            {
              limit: 'maxPendingCalls',
            },
          ),
        }),
      );
      return;
    }
    const callId = ++this.#nextCall;
    this.#calls.set(callId, msg);
    ctx.emit({ kind: Kind.CALL, identifier, callId, body });
  }

  /** An `RPC_REPLY` of the communicator: the answer to a call this link's subscriber worked on. */
  reply(m: BrokerMessage): undefined {
    const msg = this.#calls.get(Number(m.callId));
    if (msg === undefined) return undefined;
    const data = this.#ctx.pack(m.ok === true ? { ok: true, result: m.result } : { ok: false, error: m.error });
    this.#calls.delete(Number(m.callId));
    msg.respond(data);
    return undefined;
  }

  /** An `RPC` of the communicator: a call to `m.recipient`, waited for `timeoutMs` (+1 s; a day without one). */
  call(m: BrokerMessage, timeoutMs: number | undefined): undefined {
    const ctx = this.#ctx;
    const recipient = String(m.recipient);
    const subject = ctx.names.rpc(recipient);
    const data = ctx.pack({ body: m.body });
    const timeout = timeoutMs === undefined ? 24 * 3600_000 : timeoutMs + 1000;
    let done = false;
    const finish = (ok: boolean, result: unknown, error?: WireError): void => {
      if (done) return;
      done = true;
      clearInterval(ping);
      ctx.reply(m.ref, ok, result, error);
    };
    const h = natsHeaders();
    h.set(PING, '1');
    const ping = setInterval(() => {
      ctx.nc.request(subject, undefined, { timeout: ctx.options.rpcPingMs, headers: h }).catch((e: unknown) => {
        if (isNoResponders(e))
          finish(
            false,
            undefined,
            wire(
              BrokerErrorCode.RECIPIENT_LOST,
              `RPC subscriber "${recipient}" went away before it answered: the call may or may not have run`,
            ),
          );
      });
    }, ctx.options.rpcPingMs);
    ping.unref();
    ctx.nc.request(subject, data, { timeout }).then(
      (r) => {
        try {
          const a = unpackValue(r.data) as { ok?: boolean; result?: unknown; error?: WireError };
          if (a.ok === true) finish(true, a.result ?? null);
          else finish(false, undefined, a.error ?? wire(BrokerErrorCode.REMOTE_EXCEPTION, 'the RPC subscriber failed'));
        } catch (e) {
          finish(
            false,
            undefined,
            wire(BrokerErrorCode.INVALID_REQUEST, `malformed RPC answer: ${(e as Error).message}`),
          );
        }
      },
      (e: unknown) => {
        if (isNoResponders(e))
          finish(
            false,
            undefined,
            wire(BrokerErrorCode.UNROUTABLE, `no RPC subscriber "${recipient}" in the cluster`, { recipient }),
          );
        else
          finish(
            false,
            undefined,
            wire(BrokerErrorCode.BROKER_UNAVAILABLE, `the RPC call failed: ${(e as Error).message}`),
          );
      },
    );
    return undefined;
  }
}

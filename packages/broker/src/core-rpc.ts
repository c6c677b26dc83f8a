/**
 * RPC routing of the broker core: which connection serves each RPC
 * identifier, and the calls in flight between a caller and its recipient.
 * A call's reply goes back to the caller's `ref`; a recipient that goes
 * away fails the calls it was serving (`RECIPIENT_LOST`).
 */
import type { Call, Conn } from './core-records.js';
import { refuse } from './core-refusals.js';
import { BrokerErrorCode, type WireError } from './errors.js';
import { type BrokerMessage, isMap, Kind } from './wire.js';

/** What the RPC router needs of the core. */
export interface RpcHost {
  /** Sends to a connection (dropped when it is gone). */
  send(connId: string, m: BrokerMessage): void;
  /** Answers a request of `c` (nothing without `ref`). */
  reply(c: Conn, ref: number | undefined, result: WireError | undefined): void;
  /** The connection `id`, created on first use. */
  conn(id: string): Conn;
  /** The connection `id`, if still connected. */
  peer(id: string): Conn | undefined;
  /** The `maxPendingCalls` bound. */
  readonly maxPendingCalls: number;
  /** Counts a call routed (`totals.rpcCalls`). */
  counted(): void;
}

/** RPC identifiers and calls in flight. */
export class RpcRouter {
  /** RPC identifier → the id of the connection that serves it (broker-wide: one per identifier). */
  readonly routes = new Map<string, string>();
  /** Calls in flight, by call id. */
  readonly calls = new Map<number, Call>();
  readonly #host: RpcHost;
  #callSeq = 0;

  /** A router that sends through `host`. */
  constructor(host: RpcHost) {
    this.#host = host;
  }

  /** An `rpc` message of `c`: routes it to the identifier's connection as a `call`. */
  call(c: Conn, ref: number | undefined, m: Record<string, unknown>): void {
    const recipient = String(m.recipient);
    const target = this.routes.get(recipient);
    if (target === undefined) {
      return this.#host.reply(c, ref, refuse.unroutable(recipient));
    }
    if (this.calls.size >= this.#host.maxPendingCalls) {
      return this.#host.reply(c, ref, refuse.tooManyCalls(this.calls.size, this.#host.maxPendingCalls));
    }
    const call: Call = { id: ++this.#callSeq, caller: c.id, ref: ref ?? 0, recipient: target, identifier: recipient };
    this.calls.set(call.id, call);
    c.calling.add(call.id);
    this.#host.conn(target).serving.add(call.id);
    this.#host.counted();
    this.#host.send(target, { kind: Kind.CALL, callId: call.id, identifier: recipient, body: m.body });
  }

  /** An `rpcReply` of `c` (ignored unless `c` is the call's recipient). */
  reply(c: Conn, m: Record<string, unknown>): void {
    const call = this.calls.get(Number(m.callId));
    if (call === undefined || call.recipient !== c.id) return;
    if (m.pending === true) {
      // The handler returned a future: the answer follows in another rpcReply (kiwipy's nested futures).
      this.#host.send(call.caller, { kind: Kind.PENDING, ref: call.ref });
      return;
    }
    this.calls.delete(call.id);
    c.serving.delete(call.id);
    this.#host.peer(call.caller)?.calling.delete(call.id);
    if (m.ok === false)
      this.#fail(
        call,
        isMap(m.error)
          ? (m.error as unknown as WireError)
          : { code: BrokerErrorCode.REMOTE_EXCEPTION, message: 'the RPC handler failed' },
      );
    else this.#host.send(call.caller, { kind: Kind.REPLY, ref: call.ref, ok: true, result: m.result });
  }

  /**
   * `c` went away (already removed from the connections): its identifiers are freed, the answers to its calls
   * will be dropped, the calls it was serving fail.
   */
  connectionLost(c: Conn): void {
    for (const id of c.rpc) this.routes.delete(id);
    for (const callId of c.calling) {
      const call = this.calls.get(callId);
      if (call !== undefined) call.caller = '';
    }
    for (const callId of c.serving) {
      const call = this.calls.get(callId);
      if (call === undefined) continue;
      this.calls.delete(callId);
      this.#fail(call, refuse.recipientLost(call.identifier));
    }
  }

  #fail(call: Call, e: WireError): void {
    this.#host.peer(call.caller)?.calling.delete(call.id);
    this.#host.send(call.caller, { kind: Kind.REPLY, ref: call.ref, ok: false, error: e });
  }
}

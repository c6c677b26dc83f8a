/**
 * Subscribing and unsubscribing: task subscribers (with their prefetch), RPC
 * identifiers (one connection each, broker-wide) and broadcast subscribers.
 */
import type { Conn, Sub } from './core-records.js';
import { refuse } from './core-refusals.js';
import type { WireError } from './errors.js';
import type { SubscriberType } from './wire.js';

/** The broker-wide tables and bounds a (un)subscribe works on (the core's own, shared by reference). */
export interface Subscribers {
  /** Every task subscriber, in subscribe order (the dispatch candidates). */
  readonly subs: Sub[];
  /** RPC identifier → the id of the connection that serves it. */
  readonly routes: Map<string, string>;
  /** The `maxSubscribersPerConnection` bound. */
  readonly maxSubscribersPerConnection: number;
  /** The `maxPrefetch` bound. */
  readonly maxPrefetch: number;
}

/**
 * A `subscribe` of `c` (task, rpc or broadcast): validated against the bounds, then recorded on the connection and,
 * for task and rpc subscribers, in the broker-wide tables. Returns the refusal, if any.
 */
export function subscribe(s: Subscribers, c: Conn, m: Record<string, unknown>): WireError | undefined {
  const type = m.type as SubscriberType;
  const identifier = m.identifier;
  if (typeof identifier !== 'string' || identifier === '') return refuse.noIdentifier();
  const count = c.taskSubs.size + c.rpc.size + c.broadcast.size;
  const taken =
    type === 'task'
      ? c.taskSubs.has(identifier)
      : type === 'rpc'
        ? s.routes.has(identifier)
        : c.broadcast.has(identifier);
  if (taken) {
    return refuse.duplicateIdentifier(type, identifier);
  }
  if (count >= s.maxSubscribersPerConnection) {
    return refuse.tooManySubscribers(count, s.maxSubscribersPerConnection);
  }
  if (type === 'task') {
    const prefetch = m.prefetch === undefined ? 1 : Number(m.prefetch);
    if (!Number.isInteger(prefetch) || prefetch < 1 || prefetch > s.maxPrefetch) {
      return refuse.badPrefetch(m.prefetch, s.maxPrefetch);
    }
    const sub: Sub = {
      key: `${c.id}\u0000${identifier}`,
      connId: c.id,
      identifier,
      prefetch,
      inflight: new Set(),
      delivered: 0,
      lastUsed: 0,
    };
    c.taskSubs.set(identifier, sub);
    s.subs.push(sub);
  } else if (type === 'rpc') {
    c.rpc.add(identifier);
    s.routes.set(identifier, c.id);
  } else if (type === 'broadcast') {
    c.broadcast.add(identifier);
  } else return refuse.badSubscriberType(type);
  return undefined;
}

/**
 * An `unsubscribe` of `c`. Deliveries already made to a task subscriber stay leased to the connection. Returns the
 * refusal (`UNKNOWN_SUBSCRIBER`), if any.
 */
export function unsubscribe(s: Subscribers, c: Conn, m: Record<string, unknown>): WireError | undefined {
  const identifier = String(m.identifier);
  const unknown = refuse.unknownSubscriber(m.type, identifier);
  if (m.type === 'task') {
    const sub = c.taskSubs.get(identifier);
    if (sub === undefined) return unknown;
    c.taskSubs.delete(identifier);
    const i = s.subs.indexOf(sub);
    if (i >= 0) s.subs.splice(i, 1);
    // Deliveries already made stay leased to the connection: their results are still accepted.
  } else if (m.type === 'rpc') {
    if (!c.rpc.delete(identifier)) return unknown;
    s.routes.delete(identifier);
  } else if (m.type === 'broadcast') {
    if (!c.broadcast.delete(identifier)) return unknown;
  } else return unknown;
  return undefined;
}

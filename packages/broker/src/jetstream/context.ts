/**
 * What the parts of a {@link JetStreamLink} (submitter, workers, hand-over, dead letters, RPC) share of it: the NATS
 * connection, the namespace, the settings, the link's state and its way back to the communicator; and the small
 * helpers they all use.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import {
  createInbox,
  type MsgHdrs,
  type NatsConnection,
  NoRespondersError,
  RequestError,
} from '@nats-io/transport-node';
import { packValue } from '@socketkit/codec';
import { BrokerErrorCode, type WireError } from '../errors.js';
import type { BrokerMessage } from '../wire.js';
import type { Names } from './names.js';
import type { JetStreamSettings } from './options.js';

/** The link as its parts see it (one object per link, made by the link). */
export interface LinkContext {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly names: Names;
  readonly options: JetStreamSettings;
  /** The communicator's id (its outcome subject and KV owner value). */
  readonly id: string;
  /** The link is closed: nothing new starts. */
  readonly closed: boolean;
  /** Since when the NATS connection is down (undefined while up). */
  readonly downSince: number | undefined;
  /** Subjects the server refused this user (permission violations), as they were reported. */
  readonly denied: ReadonlySet<string>;
  /** Hands a message to the communicator (on a later microtask; nothing once closed). */
  emit(m: BrokerMessage): void;
  /** Answers a request of the communicator by its `ref` (nothing without one). */
  reply(ref: unknown, ok: boolean, result: unknown, error?: WireError): undefined;
  /** Reports an error the communicator shows as an `error` event. */
  report(e: Error): void;
  /** Packs a value for NATS ({@link packFor}). */
  pack(value: unknown): Uint8Array;
  /** Publishes to a stream until it is stored (the submitter's `publish`), resolved with the stream sequence. */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs, msgID: string): Promise<number>;
}

/** A promise resolved after `ms` (its timer does not hold the process). */
export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** A wire error, `details` only when there are some. */
export const wire = (code: string, message: string, details?: Record<string, unknown>): WireError =>
  details ? { code, message, details } : { code, message };

/** An error `Communicator` sorts as "this message cannot be sent". */
export function messageError(code: 'FRAME_TOO_LARGE' | 'INVALID_MESSAGE', message: string): Error {
  return Object.assign(new Error(message), { code });
}

/** A request failed because nobody listens on its subject. */
export const isNoResponders = (e: unknown): boolean =>
  e instanceof NoRespondersError ||
  (e instanceof RequestError && e.isNoResponders()) ||
  (e as Error)?.cause instanceof NoRespondersError;

/** Packs a value for NATS; throws what `Communicator` turns into `InvalidRequest` / `LimitExceeded`. */
export function packFor(nc: NatsConnection, value: unknown): Uint8Array {
  let data: Uint8Array;
  try {
    data = packValue(value);
  } catch (e) {
    throw messageError('INVALID_MESSAGE', `cannot encode with msgpack: ${(e as Error).message}`);
  }
  const max = nc.info?.max_payload ?? 1024 * 1024;
  if (data.length > max - 512)
    throw messageError('FRAME_TOO_LARGE', `${data.length} bytes is over the server's max_payload (${max})`);
  return data;
}

/** The wire form of an error thrown inside the link. */
export function toWire(e: unknown): WireError {
  const code = (e as { code?: unknown }).code;
  const details = (e as { details?: Record<string, unknown> }).details;
  return typeof code === 'string' && code in BrokerErrorCode
    ? wire(code, (e as Error).message, details)
    : wire(BrokerErrorCode.BROKER_UNAVAILABLE, String((e as Error)?.message ?? e));
}

/** A fresh inbox subject with the connection's inbox prefix. */
export const newInbox = (nc: NatsConnection): string =>
  createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);

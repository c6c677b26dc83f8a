/**
 * `JetStreamCommunicator`: the same {@link Communicator} on NATS JetStream,
 * with no socketkit broker process (see ./link.ts for the mapping).
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { Communicator, type RpcSendOptions } from '../communicator.js';
import { BrokerUnavailable, DuplicateSubscriberIdentifier } from '../errors.js';
import { BroadcastFilter, type BroadcastSubscriber } from '../filter.js';
import { JetStreamLink } from './link.js';
import type { JetStreamOptions } from './options.js';
import { subscriberSubjects } from './names.js';

/** Options of `connect({ transport: 'jetstream', ... })`. */
export interface JetStreamConnectOptions extends JetStreamOptions {
  transport: 'jetstream';
}

/**
 * A {@link Communicator} on NATS JetStream: tasks on a work-queue stream, RPC over request/reply, broadcasts on
 * subjects.
 */
export class JetStreamCommunicator extends Communicator {
  readonly #link: JetStreamLink;
  readonly #broadcasts = new Map<string, () => void>();

  /** @internal Use `connect({ transport: 'jetstream', servers })`. */
  constructor(link: JetStreamLink) {
    super();
    this.#link = link;
    const events = this.attach(link);
    link.start(
      events,
      (e) => {
        if (!this.isClosed() && this.listenerCount('error') > 0) this.emit('error', e);
      },
      (up, reason) => {
        if (this.isClosed()) return;
        if (up) this.emit('connected');
        else this.emit('disconnected', reason);
      },
    );
  }

  /** The NATS connection under it. */
  get nats(): NatsConnection {
    return this.#link.nc;
  }

  /**
   * Outcomes that reached this submitter for a task that already had one (a redelivered task that ran twice); each was
   * refused.
   */
  get duplicateOutcomes(): number {
    return this.#link.duplicateOutcomes;
  }

  /** NATS subjects this communicator listens to for its broadcast subscribers (the push-down of their filters). */
  get broadcastSubjects(): string[] {
    return this.#link.broadcastSubscriptions;
  }

  /**
   * Adds a broadcast subscriber; a {@link BroadcastFilter}'s subjects are pushed down to NATS wildcards (and applied
   * again here).
   */
  override async addBroadcastSubscriber(
    fn: BroadcastSubscriber | BroadcastFilter,
    identifier: string = randomUUID(),
  ): Promise<string> {
    if (this.#broadcasts.has(identifier))
      throw new DuplicateSubscriberIdentifier(
        `broadcast subscriber "${identifier}" already exists on this communicator: choose another identifier`,
      );
    const prefix = this.#link.names.broadcast;
    this.#link.setBroadcastSubjects(identifier, subscriberSubjects(prefix, fn));
    let off = (): void => undefined;
    if (fn instanceof BroadcastFilter)
      off = fn.onSubjectsChanged(() => {
        this.#link.setBroadcastSubjects(identifier, subscriberSubjects(prefix, fn));
        this.#link.syncBroadcasts().catch((e: Error) => this.emit('error', e));
      });
    this.#broadcasts.set(identifier, off);
    try {
      return await super.addBroadcastSubscriber(fn, identifier);
    } catch (e) {
      off();
      this.#broadcasts.delete(identifier);
      this.#link.setBroadcastSubjects(identifier, undefined);
      throw e;
    }
  }

  /** Removes a broadcast subscriber. */
  override async removeBroadcastSubscriber(identifier: string): Promise<void> {
    await super.removeBroadcastSubscriber(identifier);
    this.#broadcasts.get(identifier)?.();
    this.#broadcasts.delete(identifier);
  }

  /** Calls an RPC subscriber anywhere in the cluster (see {@link Communicator.rpcSend}). */
  override rpcSend(recipient: string, body: unknown, options: RpcSendOptions = {}): Promise<unknown> {
    this.#link.nextRpcTimeout = options.timeoutMs;
    try {
      return super.rpcSend(recipient, body, options);
    } finally {
      this.#link.nextRpcTimeout = undefined;
    }
  }
}

/**
 * Connects a communicator to NATS JetStream (creating the namespace's
 * streams, consumer and KV bucket if needed).
 * @throws BrokerUnavailable when no server can be reached or JetStream is not enabled.
 */
export async function connectJetStream(options: JetStreamOptions): Promise<JetStreamCommunicator> {
  let link: JetStreamLink;
  try {
    link = await JetStreamLink.open(options);
  } catch (e) {
    throw new BrokerUnavailable(`cannot reach NATS JetStream at ${String(options.servers)}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const comm = new JetStreamCommunicator(link);
  await new Promise<void>((resolve) => comm.once('connected', () => resolve()));
  return comm;
}

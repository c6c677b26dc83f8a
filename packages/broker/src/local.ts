/**
 * `LocalCommunicator`: the same semantics as a connected `Communicator`,
 * in-process, for tests. Every message is copied through msgpack, as on the
 * wire, and delivered asynchronously.
 */
import { packValue, unpackValue } from '@socketkit/codec';
import { Communicator, type LinkEvents } from './communicator.js';
import { BrokerCore, type BrokerLimits } from './core.js';
import { MemoryStore } from './store.js';
import type { BrokerMessage } from './wire.js';

const copy = (m: unknown): unknown => unpackValue(packValue(m));

/** An in-process broker that several {@link LocalCommunicator}s can share. */
export class LocalBroker {
  /** The broker's state machine (stats, listTasks, requeue, purgeDead). */
  readonly core: BrokerCore;
  readonly #links = new Map<string, LinkEvents>();
  #next = 0;

  constructor(limits: BrokerLimits = {}) {
    this.core = new BrokerCore(
      {
        send: (connId: string, m: BrokerMessage) => {
          const link = this.#links.get(connId);
          if (link === undefined) return;
          const data = copy(m);
          setImmediate(() => link.message(data));
        },
      },
      new MemoryStore(),
      limits,
    );
  }

  /** @internal Connects a communicator; returns its connection id. */
  join(events: LinkEvents): string {
    const id = `local_${++this.#next}`;
    this.#links.set(id, events);
    this.core.connected(id);
    setImmediate(() => events.up());
    return id;
  }

  /** @internal */
  deliver(connId: string, m: BrokerMessage): void {
    const data = copy(m);
    setImmediate(() => {
      if (this.#links.has(connId)) this.core.handle(connId, data);
    });
  }

  /** @internal */
  leave(connId: string): void {
    this.#links.delete(connId);
    this.core.disconnected(connId);
  }

  /** Stops the broker's timers. */
  close(): void {
    this.core.close();
  }
}

/** Options of {@link LocalCommunicator}. */
export interface LocalCommunicatorOptions extends BrokerLimits {
  /** Share this in-process broker (default: a broker of its own). */
  broker?: LocalBroker;
}

/**
 * A communicator with an in-process broker: tasks, RPC and broadcasts with
 * the same semantics as over a socket (one process).
 *
 * @example
 * const comm = new LocalCommunicator();
 * await comm.addTaskSubscriber((n) => (n as number) * 2);
 * await comm.taskSend(21); // 42
 */
export class LocalCommunicator extends Communicator {
  readonly #broker: LocalBroker;
  readonly #own: boolean;
  readonly #connId: string;

  constructor(options: LocalCommunicatorOptions = {}) {
    super();
    const { broker, ...limits } = options;
    this.#own = broker === undefined;
    this.#broker = broker ?? new LocalBroker(limits);
    const events = this.attach({
      send: (m) => this.#broker.deliver(this.#connId, m),
      resultsWithoutRef: true,
      close: async () => {
        this.#broker.leave(this.#connId);
        if (this.#own) this.#broker.close();
      },
    });
    this.#connId = this.#broker.join(events);
  }

  /** The in-process broker (stats, listTasks, requeue, purgeDead). */
  get broker(): LocalBroker {
    return this.#broker;
  }
}

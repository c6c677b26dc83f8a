/**
 * Issue 25's broker bench: socketkit's own broker, `@socketkit/broker`, over Unix sockets. The one
 * place that knows its API, so adapting the bench to it is an edit of this file only.
 *
 * The package is imported by a computed specifier, so the bench builds and runs without it: until it
 * is built (and listed in bench/package.json), the socketkit-broker rows are skipped with the note
 * "@socketkit/broker not built".
 */
import type { BrokerMode, BrokerPeer, TaskBody, TaskResult } from './broker-peer.js';

/** The part of `@socketkit/broker`'s API the bench uses (names from issue 25). */
interface Communicator {
  addTaskSubscriber(fn: (body: unknown, ctx: unknown) => Promise<unknown>, options?: { prefetch?: number }): unknown;
  taskSend(body: unknown): Promise<unknown>;
  addRpcSubscriber(fn: (body: unknown) => Promise<unknown>, identifier?: string): unknown;
  rpcSend(recipient: string, body: unknown): Promise<unknown>;
  close(): Promise<void>;
}
interface Broker {
  stop(): Promise<void>;
}
interface BrokerModule {
  startBroker(options: Record<string, unknown>): Promise<Broker>;
  connect(options: Record<string, unknown>): Promise<Communicator>;
}

const SPECIFIER = '@socketkit/broker';

/** Imports `@socketkit/broker`. @throws Error "@socketkit/broker not built (…)" when it cannot load. */
export async function loadBroker(): Promise<BrokerModule> {
  let mod: Partial<BrokerModule>;
  try {
    mod = (await import(SPECIFIER)) as Partial<BrokerModule>;
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new Error(`@socketkit/broker not built (${why})`);
  }
  if (typeof mod.startBroker !== 'function' || typeof mod.connect !== 'function')
    throw new Error('@socketkit/broker not built (it exports no startBroker / connect)');
  return mod as BrokerModule;
}

/** A socketkit broker started in this (bench worker) process. */
export interface SkBrokerHost {
  stop(): Promise<void>;
}

/**
 * Starts a broker listening in `socketDir` under the event name `name`; durable mode stores tasks in the
 * directory `storePath` (the LMDB environment).
 * Runs in a bench worker process of its own, like the RabbitMQ and Redis servers.
 */
export async function startSkBroker(
  socketDir: string,
  name: string,
  mode: BrokerMode,
  storePath: string | undefined,
): Promise<SkBrokerHost> {
  const { startBroker } = await loadBroker();
  const broker = await startBroker({
    transport: 'unix',
    socketDir,
    eventName: name,
    ...(mode === 'durable' ? { store: { path: storePath } } : {}),
  });
  return { stop: () => broker.stop() };
}

/** socketkit's side of a bench worker process: one `Communicator` connection. */
export class SkBrokerPeer implements BrokerPeer {
  readonly #comm: Communicator;

  private constructor(comm: Communicator) {
    this.#comm = comm;
  }

  /** Connects a `Communicator` to the broker `name` in `socketDir`. */
  static async connect(socketDir: string, name: string): Promise<SkBrokerPeer> {
    const { connect } = await loadBroker();
    return new SkBrokerPeer(await connect({ transport: 'unix', socketDir, eventName: name }));
  }

  async serveTasks(prefetch: number, onTask: () => void): Promise<void> {
    await this.#comm.addTaskSubscriber(
      async (body) => {
        onTask();
        const result: TaskResult = { n: (body as TaskBody).n, ok: true };
        return result;
      },
      { prefetch },
    );
  }

  async serveRpc(name: string): Promise<void> {
    await this.#comm.addRpcSubscriber(async (body) => body, name);
  }

  submit(body: TaskBody): Promise<unknown> {
    return this.#comm.taskSend(body);
  }

  rpc(name: string, body: TaskBody): Promise<unknown> {
    return this.#comm.rpcSend(name, body);
  }

  close(): Promise<void> {
    return this.#comm.close();
  }
}

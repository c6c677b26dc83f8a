import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { checkOptions, optionRule as r, type OptionRulesFor } from '@socketkit/config';
import {
  SocketClient,
  SocketServer,
  type Payload,
  type SocketClientOptions,
  type SocketServerOptions,
} from '@socketkit/core';
import {
  clientEngineOptions,
  resolveConfig,
  serverEngineOptions,
  type ClientConfigOptions,
  type ServerConfigOptions,
  TRANSPORT_CLIENT_RULES,
  TRANSPORT_SERVER_RULES,
} from '@socketkit/core/internal';
import type { MessageData, MessageError } from '@socketkit/protocol';
import { DEFAULT_NATS_SERVERS, NatsClientTransport, NatsServerTransport } from './nats-transport.js';

/** Default heartbeat over NATS (ms): there is no socket close to notice a dead peer, so presence is heartbeats. */
export const DEFAULT_NATS_HEARTBEAT_INTERVAL = 2000;

/** NATS link options shared by server and client. */
export interface NatsOptions {
  /** NATS server URL(s) (default env `SOCKET_NATS_SERVERS`, else `nats://127.0.0.1:4222`). */
  servers?: string | string[];
  /** Subject prefix (default `socketkit`): subjects are `<prefix>.<event>.…`. */
  subjectPrefix?: string;
  /** Extra `@nats-io/transport-node` connect options (auth, TLS, ...). */
  natsOptions?: Partial<NodeConnectionOptions>;
}

/** Options of {@link NatsSocketServer}. */
export interface NatsSocketServerOptions<TIn = MessageData, TOut = MessageData>
  extends Omit<SocketServerOptions<TIn, TOut>, 'transport' | keyof ServerConfigOptions>,
    ServerConfigOptions,
    NatsOptions {}

/** Options of {@link NatsSocketClient}. */
export interface NatsSocketClientOptions<T = MessageData>
  extends Omit<SocketClientOptions<T>, 'transport' | keyof ClientConfigOptions>,
    ClientConfigOptions,
    NatsOptions {}

const NATS_LINK_RULES: OptionRulesFor<NatsOptions> = {
  servers: r.either(r.string(), {
    expected: 'an array of URLs',
    test: (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'),
  }),
  subjectPrefix: r.string(),
  natsOptions: r.object('an object of @nats-io/transport-node connect options'),
};

/** Every option {@link NatsSocketServer} accepts, with its check (unknown keys and wrong types are refused). */
export const NATS_SERVER_OPTION_RULES: OptionRulesFor<NatsSocketServerOptions> = Object.freeze({
  ...TRANSPORT_SERVER_RULES,
  ...NATS_LINK_RULES,
});

/** Every option {@link NatsSocketClient} accepts, with its check. */
export const NATS_CLIENT_OPTION_RULES: OptionRulesFor<NatsSocketClientOptions> = Object.freeze({
  ...TRANSPORT_CLIENT_RULES,
  ...NATS_LINK_RULES,
});

function servers(o: NatsOptions, env: Record<string, string | undefined> | undefined): string | string[] {
  const fromEnv = (env ?? process.env).SOCKET_NATS_SERVERS;
  return o.servers ?? (fromEnv ? fromEnv.split(',').map((s) => s.trim()) : DEFAULT_NATS_SERVERS);
}

function link(
  o: NatsOptions & {
    eventName: string;
    env?: Record<string, string | undefined>;
    maxMessageSize?: number;
    token?: string;
    handshake?: boolean;
  },
  onDiscard?: (e: MessageError) => void,
) {
  return {
    eventName: o.eventName,
    // A token session authenticates its NATS messages (the handshake derives the keys).
    token: o.token !== undefined && o.handshake !== false,
    ...(o.maxMessageSize !== undefined ? { maxMessageSize: o.maxMessageSize } : {}),
    ...(onDiscard !== undefined ? { onDiscard } : {}),
    servers: servers(o, o.env),
    ...(o.subjectPrefix !== undefined ? { subjectPrefix: o.subjectPrefix } : {}),
    ...(o.natsOptions !== undefined ? { natsOptions: o.natsOptions } : {}),
  };
}

/**
 * A socketkit server reached through NATS, for processes on many hosts.
 * Same API as the Unix and TCP servers; broadcasts are one NATS publish.
 *
 * @example
 * const server = new NatsSocketServer({ eventName: 'orders', servers: 'nats://10.0.0.5:4222' });
 * await server.start();
 * server.send({ id: 7 });
 */
export class NatsSocketServer<
  TIn extends Payload<TIn> = MessageData,
  TOut extends Payload<TOut> = MessageData,
> extends SocketServer<TIn, TOut> {
  constructor(options: NatsSocketServerOptions<TIn, TOut>) {
    checkOptions(options, NATS_SERVER_OPTION_RULES, 'NatsSocketServer');
    const config = resolveConfig(options);
    // Only an explicit maxMessageSize makes start() fail on a smaller broker; the default is lowered to fit.
    const transport = new NatsServerTransport(link(options, (e) => this?.reportDiscard(e)));
    super({
      ...serverEngineOptions<TIn, TOut>(config, options.maxConnections ?? 10, options, {
        heartbeatInterval: DEFAULT_NATS_HEARTBEAT_INTERVAL,
        requireHello: true,
      }),
      eventName: options.eventName,
      transport,
    });
  }

  /** @internal Reports a discarded stray publish as an `error` event (or a log line). */
  reportDiscard(error: MessageError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.log.warn(error.message);
  }
}

/**
 * A socketkit client reached through NATS.
 *
 * @example
 * const client = new NatsSocketClient({ eventName: 'orders', servers: 'nats://10.0.0.5:4222' });
 * await client.connect();
 * for await (const m of client) console.log(m.data);
 */
export class NatsSocketClient<T extends Payload<T> = MessageData> extends SocketClient<T> {
  constructor(options: NatsSocketClientOptions<T>) {
    checkOptions(options, NATS_CLIENT_OPTION_RULES, 'NatsSocketClient');
    const config = resolveConfig(options);
    const transport = new NatsClientTransport(
      link({ ...options, maxMessageSize: undefined }, (e) => this?.reportDiscard(e)),
    );
    super({
      ...clientEngineOptions<T>(config, options, { heartbeatInterval: DEFAULT_NATS_HEARTBEAT_INTERVAL }),
      eventName: options.eventName,
      transport,
    });
  }

  /** @internal Reports a discarded stray publish as an `error` event (or a log line). */
  reportDiscard(error: MessageError): void {
    if (this.listenerCount('error') > 0) (this as { emit(e: string, ...a: unknown[]): boolean }).emit('error', error);
    else this.log.warn(error.message);
  }
}

import { afterAll, beforeAll } from '@jest/globals';
import { connect, type NatsConnection } from '@nats-io/transport-node';

import { natsBinary, type NatsServerHandle, startNatsServer } from '@socketkit/test-support';

/** The nats-server binary, or undefined (the NATS tests then skip). */
export const binary = natsBinary;

export type Broker = NatsServerHandle;

/** Starts a nats-server on a free loopback port, with `config` (a nats-server config file's text) if given. */
export function startBroker(config?: string): Promise<Broker> {
  return startNatsServer(config !== undefined ? { config } : {});
}

/**
 * For a describe block: a nats-server and a NATS connection named 'forger' to it (a publisher the broker admits),
 * started in beforeAll and closed in afterAll.
 */
export function useBrokerAndForger(): { readonly broker: Broker; readonly forger: NatsConnection } {
  let broker: Broker | undefined;
  let forger: NatsConnection | undefined;
  beforeAll(async () => {
    broker = await startBroker();
    forger = await connect({ servers: broker.url, name: 'forger' });
  });
  afterAll(async () => {
    await forger?.close();
    await broker?.stop();
  });
  return {
    get broker() {
      return broker as Broker;
    },
    get forger() {
      return forger as NatsConnection;
    },
  };
}

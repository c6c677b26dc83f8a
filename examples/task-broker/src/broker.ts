/**
 * The broker: `startBroker()` from @socketkit/broker. Leases, fencing,
 * least-loaded dispatch with a prefetch bound, redelivery of a lost worker's
 * tasks and dead letters are the package's.
 *
 *   node dist/broker.js [--transport unix|tcp] [--socket-dir DIR] [--port N]
 */
import { parseArgs } from 'node:util';
import { type Broker, startBroker } from '@socketkit/broker';
import { ENDPOINT_OPTIONS, endpoint, isMain } from './shared.js';

/** Starts the broker (stop it to end). */
export async function runBroker(values: Parameters<typeof endpoint>[0]): Promise<Broker> {
  const broker = await startBroker({ ...endpoint(values), maxConnections: 64 });
  console.log(`[broker] ready on ${broker.address}${broker.port === undefined ? '' : ` port ${broker.port}`}`);
  return broker;
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: ENDPOINT_OPTIONS });
  const broker = await runBroker(values);
  const stop = (): void => {
    const { totals } = broker.stats();
    void broker.stop().then(() => console.log(`[broker] stopped after ${totals.completed} tasks (${totals.redelivered} redelivered)`));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

import { createServer, type Server } from 'node:net';

/**
 * Holds `port` on 127.0.0.1 with a plain listener (exclusive), so that a server under test finds it taken; `cleanups`
 * gets the listener's close.
 */
export function occupy(port: number, cleanups: Array<() => unknown>): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host: '127.0.0.1', port, exclusive: true }, () => {
      cleanups.push(() => new Promise((r) => s.close(r)));
      resolve(s);
    });
  });
}

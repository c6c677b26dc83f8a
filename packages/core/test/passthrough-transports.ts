// A client and server transport over a pair of PassThrough streams (plain
// node:stream Duplexes, not core's duplexPair): the engine over any Duplex.
import { Duplex, PassThrough } from 'node:stream';
import type { ClientTransport, ServerTransport, TransportStream } from '../src/index.js';

function pair(): [Duplex, Duplex] {
  const ab = new PassThrough();
  const ba = new PassThrough();
  return [Duplex.from({ readable: ba, writable: ab }), Duplex.from({ readable: ab, writable: ba })];
}

/** A server transport and a client transport that connects to it, in memory. */
export function memoryTransports(): { server: ServerTransport; client: ClientTransport } {
  let accept: ((s: TransportStream) => void) | undefined;
  return {
    server: {
      kind: 'memory',
      address: () => 'memory',
      listen: async (onConnection) => {
        accept = onConnection;
      },
      close: async () => {
        accept = undefined;
      },
    },
    client: {
      kind: 'memory',
      address: () => 'memory',
      connect: async () => {
        if (accept === undefined) throw new Error('not listening');
        const [c, s] = pair();
        accept(s);
        return c;
      },
    },
  };
}

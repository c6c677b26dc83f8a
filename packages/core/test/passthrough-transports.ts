// A client and server transport over a pair of PassThrough streams (plain
// node:stream Duplexes, not core's duplexPair): the engine over any Duplex.
import { Duplex, PassThrough } from 'node:stream';
import type { ClientTransport, ServerTransport } from '../src/index.js';
import { memoryServerTransport } from './duplex-pair.js';

function pair(): [Duplex, Duplex] {
  const ab = new PassThrough();
  const ba = new PassThrough();
  return [Duplex.from({ readable: ba, writable: ab }), Duplex.from({ readable: ab, writable: ba })];
}

/** A server transport and a client transport that connects to it, in memory. */
export function memoryTransports(): { server: ServerTransport; client: ClientTransport } {
  const server = memoryServerTransport(pair);
  return { server, client: { kind: 'memory', address: () => 'memory', connect: async () => server.open() } };
}

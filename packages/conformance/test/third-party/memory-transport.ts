// A third-party transport for the conformance suite: in-memory streams,
// registered through socketkit's registerTransport() exactly as an outside
// package would, with no conformance fixture of its own (so the suite gives
// it no extra options and no capabilities). Importing this module registers
// it and selects it for the describeTransports blocks imported after it.
import { type ClientTransport, duplexPair, type ServerTransport, SocketClient, SocketServer, type TransportStream } from '@socketkit/core';
import { ConnectionError, ErrorCode } from '@socketkit/protocol';
import { registerTransport } from 'socketkit';
import { selectTransports } from '../../src/harness.js';

/** The name it registers under. */
export const MEMORY = 'memory-test';

// Listening servers by event name: the "address space" of this transport.
const listening = new Map<string, (stream: TransportStream) => void>();

function serverTransport(eventName: string): ServerTransport {
  return {
    kind: MEMORY,
    address: () => `memory://${eventName}`,
    listen: async (onConnection) => {
      if (listening.has(eventName)) throw new ConnectionError(ErrorCode.ADDRESS_IN_USE, `memory://${eventName} is in use: stop the other server`);
      listening.set(eventName, onConnection);
    },
    close: async () => {
      listening.delete(eventName);
    },
  };
}

function clientTransport(eventName: string): ClientTransport {
  return {
    kind: MEMORY,
    address: () => `memory://${eventName}`,
    connect: async (signal) => {
      signal.throwIfAborted();
      const accept = listening.get(eventName);
      if (accept === undefined) {
        throw new ConnectionError(ErrorCode.SERVER_NOT_RUNNING, `no server for "${eventName}" at memory://${eventName}: start it first`);
      }
      const [a, b] = duplexPair();
      accept(b);
      return a;
    },
  };
}

registerTransport(MEMORY, {
  package: 'memory-test (this test file)',
  load: async () => ({
    createServer: ({ eventName, ...o }) => new SocketServer({ ...o, eventName, transport: serverTransport(eventName) }),
    createClient: ({ eventName, ...o }) => new SocketClient({ ...o, eventName, transport: clientTransport(eventName) }),
  }),
});
selectTransports([MEMORY]);

// A scriptable "foreign server" for client engine tests: every connect() of
// its transport hands the test the server end of an in-memory duplex pair,
// with the frames the client wrote decoded. No node:net, so jest fake timers
// drive every client timer (backoff, heartbeat, close linger).
import { Duplex, PassThrough } from 'node:stream';
import { encodeFrame, FrameDecoder } from '@socketkit/codec';
import { createMessage, type MessageData, type MessageType, type SocketMessage } from '@socketkit/protocol';
import { SocketClient, type SocketClientOptions } from '../src/client/client.js';
import type { ClientTransport, TransportStream } from '../src/transport.js';

/** Two connected in-memory Duplex ends (half-open allowed, like net sockets with allowHalfOpen). */
export function duplexPair(): [Duplex, Duplex] {
  const ab = new PassThrough();
  const ba = new PassThrough();
  return [Duplex.from({ readable: ba, writable: ab }), Duplex.from({ readable: ab, writable: ba })];
}

/** The server end of one accepted connection. */
export class Peer {
  readonly stream: Duplex;
  /** Messages the client wrote, decoded. */
  readonly received: SocketMessage[] = [];
  /** True once the client half-closed (FIN) its side. */
  sawEnd = false;
  /** Close our side when the client closes its side, as a net socket does (false: a peer that never closes). */
  endOnEnd = true;
  /** True once the stream closed. */
  closed = false;
  readonly #decoder = new FrameDecoder({ maxMessageSize: 64 * 1024 * 1024 });

  /** The client's end of the pair (to check what the client did to it). */
  clientEnd: Duplex | undefined;

  constructor(
    stream: Duplex,
    readonly eventName: string,
  ) {
    this.stream = stream;
    stream.on('error', () => undefined);
    stream.on('data', (chunk: Buffer) => this.#decoder.feed(chunk, (m) => this.received.push(m)));
    stream.on('end', () => {
      this.sawEnd = true;
      if (this.endOnEnd) stream.end();
    });
    stream.on('close', () => (this.closed = true));
  }

  /** Control ops the client sent, in order. */
  get ops(): string[] {
    return this.received.filter((m) => m.messageType === 'control').map((m) => String(m.data.op));
  }

  /** Writes one message. */
  send(type: MessageType | 'data' | 'control' | 'error', data: MessageData, extra: { replyTo?: string } = {}): void {
    this.stream.write(encodeFrame(createMessage(this.eventName, type as MessageType, data, extra)));
  }

  /** Writes a socketkit `welcome`. */
  welcome(extra: MessageData = {}): void {
    this.send('control', {
      op: 'welcome',
      protocol: 1,
      client_id: 'client_1_0',
      allow_client_send: true,
      max_message_size: 1048576,
      ...extra,
    });
  }

  /** Writes a library ERROR (as the socketkit server does). */
  refuse(code: string): void {
    this.send('error', { code, error: `refused: ${code}`, origin: 'socketkit' });
  }

  /** Abrupt close. */
  destroy(): void {
    this.stream.destroy();
  }
}

/** A transport whose server side is the test itself. */
export class FakeServer {
  readonly peers: Peer[] = [];
  /** Called for every accepted connection (before connect() resolves). */
  onAccept: (peer: Peer) => void = () => undefined;
  /** When set, connect() rejects with this error instead of accepting. */
  refuseWith: Error | undefined;
  readonly transport: ClientTransport;

  constructor(readonly eventName = 'fake') {
    this.transport = {
      kind: 'fake',
      address: () => 'fake://server',
      connect: async (_signal: AbortSignal): Promise<TransportStream> => {
        if (this.refuseWith !== undefined) throw this.refuseWith;
        const [c, s] = duplexPair();
        const peer = new Peer(s, this.eventName);
        peer.clientEnd = c;
        this.peers.push(peer);
        this.onAccept(peer);
        return c;
      },
    };
  }

  /** The latest accepted peer. */
  get last(): Peer {
    const p = this.peers[this.peers.length - 1];
    if (p === undefined) throw new Error('no connection accepted yet');
    return p;
  }
}

/** Lets streams, microtasks and immediates settle (fake timers leave these real). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

/**
 * A client of `fs` (event `fake`, silent, reconnect without jitter), `opts` on top: the client every engine test starts
 * from.
 */
export function fakeClient(fs: FakeServer, opts: Partial<SocketClientOptions> = {}): SocketClient {
  return new SocketClient({
    eventName: 'fake',
    transport: fs.transport,
    logLevel: 'silent',
    reconnect: { jitter: 0 },
    ...opts,
  });
}

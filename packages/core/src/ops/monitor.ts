import { FrameDecoder, encodeFrame } from '@socketkit/codec';
import {
  CONTROL_OPS,
  ErrorCode,
  MessageType,
  TimeoutError,
  createMessage,
  errorFromCode,
  type SocketMessage,
} from '@socketkit/protocol';
import { validateToken, type AuthRefusal } from '../wire/auth.js';
import { ClientHandshake } from '../wire/handshake.js';
import type { ServerStats } from './stats.js';
import type { ClientTransport, TransportStream } from '../transport.js';
import { isLibraryError } from '../wire/frames.js';

/**
 * node:crypto, loaded on first use: its ~20 internal modules would add milliseconds to every process's start-up
 * (issue 28), and only a stats request needs them.
 */
const crypto = () => process.getBuiltinModule('node:crypto');

/** Options of {@link fetchStats}. */
export interface FetchStatsOptions {
  /** Whole exchange, connect included (ms, default 5000; `Infinity` = none). */
  timeoutMs?: number;
  /** Largest reply accepted (bytes, default 1 MiB). */
  maxMessageSize?: number;
  /**
   * The server's token (16+ bytes), when it has one: the monitor runs the
   * same challenge–response as a client (protocol 2) before it asks, and
   * refuses a server that cannot prove it knows the token (`UNAUTHORIZED`).
   */
  token?: string;
}

/**
 * Asks one server for its statistics as a *monitor*: a peer whose hello says
 * `role: "monitor"`. A monitor is answered before registration, never takes a
 * client slot or the no-client queue and never fires `clientConnected`. The
 * server answers only when it exposes stats (`exposeStats`), else with ERROR
 * `STATS_DISABLED`. With `token`, the monitor authenticates first, as a
 * client does (a server with a token refuses monitors without it:
 * `UNAUTHORIZED`).
 *
 * It speaks the wire directly (one hello, the auth exchange when there is a
 * token, one request, one reply) instead of running a full client with
 * reconnects and buffers.
 */
export async function fetchStats(
  transport: ClientTransport,
  eventName: string,
  options: FetchStatsOptions = {},
): Promise<ServerStats> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const token = options.token === undefined ? undefined : (validateToken(options.token, eventName) as string);
  const handshake = new ClientHandshake(eventName, { token, role: 'monitor' });
  const controller = new AbortController();
  const timer = Number.isFinite(timeoutMs) ? setTimeout(() => controller.abort(), timeoutMs) : undefined;
  let stream: TransportStream | undefined;
  try {
    stream = await transport.connect(controller.signal);
    // An error after the reply (a reset, or a stream that reports its own destroy() as an error)
    // must not crash the process.
    stream.on('error', () => undefined);
    const id = crypto().randomUUID();
    const hello = createMessage(eventName, MessageType.CONTROL, handshake.hello());
    const ask = encodeFrame(createMessage(eventName, MessageType.CONTROL, { op: CONTROL_OPS.STATS }, { id }));
    stream.write(encodeFrame(hello));
    // Without a token the request goes at once; with one, only after the server proved it knows the token.
    if (!handshake.authenticates) stream.write(ask);
    const exchange: Exchange = { stream, id, ask, handshake, eventName, where: transport.address() };
    return await readReply(exchange, options.maxMessageSize, controller.signal, timeoutMs);
  } catch (err) {
    if (controller.signal.aborted)
      throw new TimeoutError(
        `no stats from ${transport.address()} within ${timeoutMs} ms: is a socketkit server running there?`,
      );
    throw err;
  } finally {
    clearTimeout(timer);
    stream?.destroy();
  }
}

/** One monitor connection: where it goes and what it sends next. */
interface Exchange {
  stream: TransportStream;
  /** Id of the stats request. */
  id: string;
  /** The stats request frame (sent after the challenge when there is a token). */
  ask: Buffer;
  handshake: ClientHandshake;
  eventName: string;
  where: string;
}

function readReply(
  x: Exchange,
  maxMessageSize: number | undefined,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<ServerStats> {
  const { stream, id, handshake, where } = x;
  const decoder = new FrameDecoder(maxMessageSize === undefined ? {} : { maxMessageSize });
  return new Promise<ServerStats>((resolve, reject) => {
    let done = false;
    const finish = (err: Error | undefined, stats?: ServerStats) => {
      done = true;
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(stats as ServerStats);
    };
    const refuse = (r: AuthRefusal) => finish(errorFromCode(r.code, `${where}: ${r.reason}`));
    const onMessage = (m: SocketMessage) => {
      if (done) return;
      if (isLibraryError(m)) {
        finish(errorFromCode(String(m.data.code), `${where}: ${String(m.data.error)}`));
        return;
      }
      if (m.messageType !== MessageType.CONTROL) return;
      if (m.replyTo !== id || m.data.op !== CONTROL_OPS.STATS) {
        const step = handshake.onFrame(m);
        if (step.kind === 'refused') refuse(step.refusal);
        else if (step.kind === 'proof') {
          // The server proved the token: a transport that authenticates frames (NATS) keys itself now.
          if (step.sessionKey !== undefined) stream.authenticated?.(step.sessionKey);
          stream.write(encodeFrame(createMessage(x.eventName, MessageType.CONTROL, step.send)));
          stream.write(x.ask);
        }
      } else {
        const stats = m.data.stats;
        if (stats === null || typeof stats !== 'object' || Array.isArray(stats)) {
          const got = stats === null ? 'null' : Array.isArray(stats) ? 'an array' : typeof stats;
          const text =
            `${where} answered the stats request without a stats object (stats is ${got}): ` +
            'is a socketkit server listening there?';
          finish(errorFromCode(ErrorCode.INVALID_MESSAGE, text));
        } else finish(undefined, stats as unknown as ServerStats);
      }
    };
    const onData = (chunk: Buffer) => {
      try {
        decoder.feed(chunk, onMessage);
      } catch (err) {
        finish(err as Error);
      }
    };
    const onEnd = () =>
      finish(
        errorFromCode(
          ErrorCode.CONNECTION_LOST,
          `${where} closed the connection before answering the stats request: ` +
            'is it a socketkit server with stats support?',
        ),
      );
    const onError = (err: Error) => finish(err);
    const onAbort = () => finish(new TimeoutError(`no stats from ${where} within ${timeoutMs} ms`));
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

import { randomUUID } from 'node:crypto';
import { FrameDecoder, encodeFrame } from '@socketkit/codec';
import { CONTROL_OPS, ErrorCode, MessageType, PROTOCOL_VERSION, TimeoutError, createMessage, errorFromCode, type SocketMessage } from '@socketkit/protocol';
import type { ServerStats } from './stats.js';
import type { ClientTransport, TransportStream } from './transport.js';
import { isLibraryError } from './wire.js';

/** Options of {@link fetchStats}. */
export interface FetchStatsOptions {
  /** Whole exchange, connect included (ms, default 5000; `Infinity` = none). */
  timeoutMs?: number;
  /** Largest reply accepted (bytes, default 1 MiB). */
  maxMessageSize?: number;
}

/**
 * Asks one server for its statistics as a *monitor*: a peer whose hello says
 * `role: "monitor"`. A monitor is answered before registration, never takes a
 * client slot or the no-client queue and never fires `clientConnected`. The
 * server answers only when it exposes stats (`exposeStats`), else with ERROR
 * `STATS_DISABLED`.
 *
 * It speaks the wire directly (one hello, one request, one reply) instead of
 * running a full client with reconnects and buffers.
 */
export async function fetchStats(transport: ClientTransport, eventName: string, options: FetchStatsOptions = {}): Promise<ServerStats> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const controller = new AbortController();
  const timer = Number.isFinite(timeoutMs) ? setTimeout(() => controller.abort(), timeoutMs) : undefined;
  let stream: TransportStream | undefined;
  try {
    stream = await transport.connect(controller.signal);
    const id = randomUUID();
    const hello = createMessage(eventName, MessageType.CONTROL, {
      op: CONTROL_OPS.HELLO,
      protocol: PROTOCOL_VERSION,
      role: 'monitor',
      event: eventName,
    });
    const ask = createMessage(eventName, MessageType.CONTROL, { op: 'stats' }, { id });
    stream.write(encodeFrame(hello));
    stream.write(encodeFrame(ask));
    return await readReply(stream, id, options.maxMessageSize, controller.signal, timeoutMs, transport.address());
  } catch (err) {
    if (controller.signal.aborted) throw new TimeoutError(`no stats from ${transport.address()} within ${timeoutMs} ms: is a socketkit server running there?`);
    throw err;
  } finally {
    clearTimeout(timer);
    stream?.destroy();
  }
}

function readReply(
  stream: TransportStream,
  id: string,
  maxMessageSize: number | undefined,
  signal: AbortSignal,
  timeoutMs: number,
  where: string,
): Promise<ServerStats> {
  const decoder = new FrameDecoder(maxMessageSize === undefined ? {} : { maxMessageSize });
  return new Promise<ServerStats>((resolve, reject) => {
    const finish = (err: Error | undefined, stats?: ServerStats) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(stats as ServerStats);
    };
    const onMessage = (m: SocketMessage) => {
      if (isLibraryError(m)) {
        finish(errorFromCode(String(m.data.code), `${where}: ${String(m.data.error)}`));
      } else if (m.messageType === MessageType.CONTROL && m.replyTo === id && m.data.op === 'stats') {
        finish(undefined, m.data.stats as ServerStats);
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
          `${where} closed the connection before answering the stats request: is it a socketkit server with stats support?`,
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

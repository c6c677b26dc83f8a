import { encodeFrame } from '@socketkit/codec';
import {
  CONTROL_OPS,
  ErrorCode,
  MessageType,
  PROTOCOL_VERSION,
  SocketError,
  createMessage,
  type MessageData,
  type SocketMessage,
} from '@socketkit/protocol';
import type { SocketLogger } from '../ops/logger.js';
import type { ServerStats } from '../ops/stats.js';
import { HANDLER_ORIGIN, controlFrame, errorFrame } from '../wire/frames.js';
import type { ServerSettings } from './options.js';

/** Describes any thrown value without ever throwing (null-prototype objects, symbols). */
export function describeThrown(err: unknown): string {
  if (err instanceof Error) return typeof err.message === 'string' ? err.message : 'error';
  try {
    if (typeof err === 'symbol') return err.toString();
    if (typeof err === 'object' && err !== null) return JSON.stringify(err) ?? 'object';
    return String(err);
  } catch {
    return Object.prototype.toString.call(err);
  }
}

/** Longest application error code sent back as it is (longer ones, or non-strings, become `HANDLER_FAILED`). */
const MAX_HANDLER_CODE_LENGTH = 64;

/**
 * The code a request handler's failure is sent back with: the thrown error's
 * own `code` when it is a short non-empty string (an application code such
 * as `NOT_FOUND`, a Node code such as `ENOENT`, a socketkit code), else
 * `HANDLER_FAILED`.
 */
export function handlerCode(err: unknown): string {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.length > 0 && code.length <= MAX_HANDLER_CODE_LENGTH
    ? code
    : ErrorCode.HANDLER_FAILED;
}

/** A CONTROL reply (`reply_to` set) as one frame. */
export function controlReply(eventName: string, data: MessageData, timezone: string, replyTo: string): Buffer {
  return encodeFrame(createMessage(eventName, MessageType.CONTROL, data, { timezone, replyTo }));
}

/** The `welcome` a client gets as its first frame once registered (PROTOCOL.md, handshake). */
export function welcomeFrame(eventName: string, s: ServerSettings, clientId: string, sender: boolean): Buffer {
  return controlFrame(
    eventName,
    {
      op: CONTROL_OPS.WELCOME,
      protocol: PROTOCOL_VERSION,
      event: eventName,
      client_id: clientId,
      allow_client_send: s.allowClientSend,
      max_message_size: s.maxMessageSize,
      // Tells a sender its role was honoured (an older server ignores it).
      ...(sender ? { role: 'sender' } : {}),
    },
    s.timezone,
  );
}

/** The `welcome` of a monitor (it never registers). */
export function monitorWelcomeFrame(eventName: string, timezone: string): Buffer {
  const data = { op: CONTROL_OPS.WELCOME, protocol: PROTOCOL_VERSION, event: eventName, role: 'monitor' };
  return controlFrame(eventName, data, timezone);
}

/**
 * The PONG frame (or, with `op`, another frame with no data but its op: the heartbeat's PING), shared by every
 * peer of a server and rebuilt at most once per millisecond: a ping flood must not cost a frame build per ping,
 * nor a heartbeat tick one per client.
 */
export class PongCache {
  #pong: { at: number; frame: Buffer } | undefined;

  constructor(
    readonly eventName: string,
    readonly timezone: string,
    readonly op: string = CONTROL_OPS.PONG,
  ) {}

  /** The current frame. */
  frame(): Buffer {
    const now = Date.now();
    if (this.#pong === undefined || this.#pong.at !== now)
      this.#pong = { at: now, frame: controlFrame(this.eventName, { op: this.op }, this.timezone) };
    return this.#pong.frame;
  }
}

/**
 * The frame of a reply to `request`, or (the library could not build it,
 * e.g. `FRAME_TOO_LARGE`) an ERROR reply with that code, logged.
 * @returns The frame, and whether it is the reply itself.
 */
export function replyFrame(
  eventName: string,
  s: ServerSettings,
  log: SocketLogger,
  request: SocketMessage,
  data: MessageData,
  type: MessageType,
): { frame: Buffer; ok: boolean } {
  const replyTo = request.id as string;
  try {
    const message = createMessage(eventName, type, data, { timezone: s.timezone, replyTo });
    return { frame: encodeFrame(message, s.maxMessageSize), ok: true };
  } catch (err) {
    // The library could not send the reply (e.g. FRAME_TOO_LARGE): a library error, with its code.
    const code = err instanceof SocketError ? err.code : ErrorCode.HANDLER_FAILED;
    log.warn(
      `the reply to a request on "${eventName}" could not be sent (${code}): ${describeThrown(err).slice(0, 200)}`,
    );
    const text = `the reply could not be sent: ${describeThrown(err)}`;
    return { frame: errorFrame(eventName, code, text, s.timezone, replyTo), ok: false };
  }
}

/** A request handler's failure as an ERROR reply (origin `handler`); the text is cut to fit `maxMessageSize`. */
export function handlerErrorFrame(
  eventName: string,
  s: ServerSettings,
  log: SocketLogger,
  request: SocketMessage,
  err: unknown,
): Buffer {
  const code = handlerCode(err);
  let text = describeThrown(err);
  // Leave room for the envelope (~200 bytes) and multi-byte characters.
  const room = Math.max(64, Math.floor((s.maxMessageSize - 512) / 4));
  if (text.length > room) text = `${text.slice(0, room)}… (cut: ${text.length} characters)`;
  log.warn(`request handler for "${eventName}" failed (${code}): ${text.slice(0, 200)}`);
  // origin "handler": the code is the application's, rebuilt as a RemoteError by the client.
  return errorFrame(eventName, code, text, s.timezone, request.id, HANDLER_ORIGIN);
}

/**
 * The answer to a monitor's request: the `stats` reply, or undefined when it
 * is anything but one `{op: "stats"}` CONTROL request with an id.
 */
export function monitorAnswer(
  eventName: string,
  timezone: string,
  request: SocketMessage,
  stats: () => ServerStats,
): Buffer | undefined {
  const ok = request.messageType === MessageType.CONTROL && request.data.op === CONTROL_OPS.STATS;
  if (!ok || request.id === undefined) return undefined;
  const data = { op: CONTROL_OPS.STATS, stats: stats() as unknown as MessageData };
  return controlReply(eventName, data, timezone, request.id);
}

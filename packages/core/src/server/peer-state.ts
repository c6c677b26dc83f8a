import { CONTROL_OPS, ErrorCode, MessageType, type SocketMessage } from '@socketkit/protocol';
import { type AuthRefusal, type ServerAuth, checkHello } from '../wire/auth.js';
import { startTimer } from '../settings.js';
import { type OutFrame, SplitFrame } from '../wire/connection.js';
import { Heartbeat } from '../wire/heartbeat.js';
import type { PeerCensus, PeerContext } from './peer-host.js';

/**
 * Most bytes of broadcasts held for a peer awaiting registration (1 MiB):
 * past it the peer gets them live (see `deliver`).
 */
export const MAX_HELD_BYTES = 1024 * 1024;

/**
 * Without a token, how long (ms) broadcasts to a new peer that has sent
 * nothing yet are held, so that a socketkit client, which writes `hello` as
 * soon as it is connected, gets its `welcome` before any broadcast (its
 * handshake takes anything else first for a server without the handshake).
 * The hold ends early on the peer's first frame; past it (a peer that never
 * says hello: the Python module) broadcasts are written live, long before
 * its registration grace (`registerGraceMs`) ends.
 */
export const HELLO_WINDOW_MS = 50;

/**
 * The life of one server-side connection. Every peer is in exactly one state
 * and moves only forward, through the named transitions below:
 *
 *   accepted ──admit()──▶ awaiting ──register()──▶ registered
 *      │                    │ hello / first app message / grace end
 *      │                    │ (with a token: only after hello + auth_proof, protocol 2)
 *      │ refuse()           │ close(): auth timeout, evicted, bad framing, stop
 *      ▼                    ▼                          │
 *   closing ◀───────────────┴──────────────────────────┘
 *      ▲                    │ hello with role "monitor" (with a token: after
 *      │                    │ hello + auth_proof, as a client)
 *      │ answered / timeout ▼
 *      └──────────────── monitoring (never registers: no slot, queue or broadcasts)
 *      │ the stream closed
 *      ▼
 *   closed
 *
 * A full server without a token keeps a new peer in `accepted`
 * (admitMonitorOnly(), at most `maxMonitors` such peers and monitors): a
 * monitor hello as its first frame takes it to `monitoring`; anything else,
 * or silence for `registerGraceMs`, is refused `MAX_CONNECTIONS`.
 */
export type PeerState = 'accepted' | 'awaiting' | 'registered' | 'monitoring' | 'closing' | 'closed';

/** Why a peer was disconnected. */
export interface DisconnectReason {
  /** An {@link ErrorCode}, or `CLOSED` for an ordinary close. */
  code: string;
  /** Human-readable text. */
  text: string;
}

/** What a peer's hello said it is. */
export type Role = 'client' | 'sender' | 'monitor';

/** Broadcasts held for a peer awaiting registration. */
export interface Held {
  frames: Uint8Array[];
  bytes: number;
}

/**
 * Holds `frame` for a peer awaiting registration, unless that would pass {@link MAX_HELD_BYTES}.
 * A split frame (the sender's own bins) is kept as a copy.
 * @returns Whether it was held.
 */
export function hold(held: Held, frame: OutFrame): boolean {
  if (held.bytes + frame.length > MAX_HELD_BYTES) return false;
  held.frames.push(frame instanceof SplitFrame ? frame.joined() : frame);
  held.bytes += frame.length;
  return true;
}

/**
 * The {@link PeerState} with what each state knows, so that no flag can
 * disagree with the state: `role` is what the hello said (undefined before
 * any hello); `held` is undefined once broadcasts go out live (while
 * registered, it is set only until its registration wrote it); `wrote` is
 * set when a frame was written before any hello; `gaveUp` when `drain()`
 * gave up on the peer (drop policy) until it drains.
 */
export type Phase =
  | { readonly name: 'accepted'; readonly refuseFull: (() => void) | undefined }
  | {
      readonly name: 'awaiting';
      role: Role | undefined;
      auth: ServerAuth | undefined;
      held: Held | undefined;
      wrote: boolean;
      gaveUp: boolean;
    }
  | { readonly name: 'registered'; role: Role | undefined; held: Held | undefined; wrote: boolean; gaveUp: boolean }
  | { readonly name: 'monitoring' }
  | { readonly name: 'closing' | 'closed'; readonly wasRegistered: boolean };

/** A hello is the handshake's only when it is the peer's first message and carries the handshake's own fields. */
export function isHandshakeHello(m: SocketMessage): boolean {
  const p = m.data.protocol;
  return (
    m.messageType === MessageType.CONTROL &&
    m.data.op === CONTROL_OPS.HELLO &&
    typeof p === 'number' &&
    Number.isInteger(p) &&
    p >= 1
  );
}

/** The role a hello claims (`client` unless it says `sender` or `monitor`). */
export function roleOf(hello: SocketMessage): Role {
  const role = hello.data.role;
  return role === 'monitor' ? 'monitor' : role === 'sender' ? 'sender' : 'client';
}

/**
 * Whether a hello is refused: another event (WRONG_EVENT) or, with a token,
 * protocol 1 (PROTOCOL_MISMATCH); a hello that comes once frames were
 * written to the peer (ADMISSION_FULL: a socketkit client has taken them for
 * a server without the handshake; a clean, retryable refusal instead of a
 * half-working session); a monitor when stats are not exposed (STATS_DISABLED).
 */
export function helloRefusal(
  hello: SocketMessage,
  c: PeerContext,
  wroteBefore: boolean,
  connectedAt: number,
): AuthRefusal | undefined {
  const role = roleOf(hello);
  const refusal = checkHello(hello, c.eventName, c.token !== undefined, role === 'monitor' ? 'monitor' : 'client');
  if (refusal !== undefined) return refusal;
  if (wroteBefore) {
    return {
      code: ErrorCode.ADMISSION_FULL,
      reason:
        `the hello reached "${c.eventName}" ${Date.now() - connectedAt} ms after the connection, once ` +
        `broadcasts had been written to it (a peer has ${HELLO_WINDOW_MS} ms to say hello): reconnect ` +
        '(a socketkit client retries with backoff)',
    };
  }
  if (role === 'monitor' && !c.settings.exposeStats) {
    return {
      code: ErrorCode.STATS_DISABLED,
      reason: `server "${c.eventName}" does not expose stats to monitors: start it with exposeStats: true`,
    };
  }
  return undefined;
}

/**
 * How long a peer may stay `awaiting`, and what then: with a token, it must
 * have authenticated within `authTimeout` (else `UNAUTHORIZED`); without one
 * but with `requireHello`, it must have said hello within `authTimeout`
 * (else `TIMEOUT`); otherwise it registers when `registerGraceMs` ends, and
 * broadcasts reach it live once its hello window (HELLO_WINDOW_MS) ended,
 * once a socketkit client had its chance to say hello.
 */
export function awaitingRule(c: PeerContext): { ms: number; refusal?: AuthRefusal; helloWindow: boolean } {
  const s = c.settings;
  if (c.token !== undefined) {
    const reason = `no authentication within ${s.authTimeout} ms: pass the server's token in the client options`;
    return { ms: s.authTimeout, refusal: { code: ErrorCode.UNAUTHORIZED, reason }, helloWindow: false };
  }
  if (s.requireHello) {
    const why = 'this server requires the handshake (a socketkit client sends it)';
    const reason = `no hello within ${s.authTimeout} ms: ${why}`;
    return { ms: s.authTimeout, refusal: { code: ErrorCode.TIMEOUT, reason }, helloWindow: false };
  }
  return { ms: s.registerGraceMs, helloWindow: true };
}

/** The phases of a peer that takes frames. */
export type OpenPhase = Extract<Phase, { name: 'awaiting' | 'registered' }>;

/** True in `awaiting` or `registered`: the peer takes frames. */
export function isOpen(ph: Phase): ph is OpenPhase {
  return ph.name === 'awaiting' || ph.name === 'registered';
}

/** Why a peer whose stream closed on its own (not through `closing`) is gone. */
export function closeReason(err: Error | undefined): DisconnectReason {
  if (err === undefined) return { code: ErrorCode.CLOSED, text: 'client disconnected' };
  const errno = (err as NodeJS.ErrnoException).code;
  return { code: ErrorCode.CONNECTION_LOST, text: `connection error: ${errno ?? err.message}` };
}

/** Moves one peer in its server's census (awaiting and registered peers counted) from state `from` to `to`. */
export function recount(census: PeerCensus, from: PeerState, to: PeerState): void {
  census.changes++;
  if (from === 'awaiting') census.awaiting--;
  else if (from === 'registered') census.registered--;
  if (to === 'awaiting') census.awaiting++;
  else if (to === 'registered') census.registered++;
}

/** Counts `n` frames of `bytes` bytes written to a peer (a shared run), on the peer and the server. */
export function countFrames(peer: Traffic, server: Traffic, n: number, bytes: number): void {
  peer.messagesOut += n;
  peer.bytesOut += bytes;
  server.messagesOut += n;
  server.bytesOut += bytes;
}

/** Bytes of the length prefix before every frame payload. */
export const FRAME_HEADER = 4;

/** Traffic counters, of a peer or of the whole server. */
interface Traffic {
  messagesIn: number;
  bytesIn: number;
  messagesOut: number;
  bytesOut: number;
}

/** Counts one frame (its length prefix included) on the peer's and the server's counters. */
export function countFrame(peer: Traffic, server: Traffic, way: 'in' | 'out', bytes: number): void {
  if (way === 'in') {
    peer.messagesIn++;
    peer.bytesIn += bytes;
    server.messagesIn++;
    server.bytesIn += bytes;
  } else {
    peer.messagesOut++;
    peer.bytesOut += bytes;
    server.messagesOut++;
    server.bytesOut += bytes;
  }
}

/**
 * An application message came first from a peer awaiting registration:
 * refused when the server requires a token or the handshake; otherwise it
 * registers the peer.
 */
export function firstMessageRefusal(c: PeerContext): AuthRefusal | undefined {
  if (c.token === undefined && !c.settings.requireHello) return undefined;
  const why =
    c.token !== undefined ? 'requires a token: send hello with the token' : 'requires the handshake: send hello';
  return { code: ErrorCode.UNAUTHORIZED, reason: `server "${c.eventName}" ${why} before anything else` };
}

/** Resolves true when `p` settles within `ms`, false once `ms` passed first. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => {
    timer = startTimer(ms, () => resolve(false));
  });
  const settled = await Promise.race([p.then(() => true), timedOut]);
  clearTimeout(timer);
  return settled;
}

/**
 * The heartbeat of a registered client that said hello (none when
 * `heartbeatInterval` is 0): a PING every interval; past `heartbeatTimeout`
 * of silence the peer is destroyed (`TIMEOUT`).
 */
export function peerHeartbeat(
  c: PeerContext,
  id: string,
  send: (frame: Buffer) => void,
  destroy: (reason: DisconnectReason) => Promise<void>,
): Heartbeat | undefined {
  const s = c.settings;
  if (s.heartbeatInterval <= 0) return undefined;
  const heartbeat = new Heartbeat({
    intervalMs: s.heartbeatInterval,
    timeoutMs: s.heartbeatTimeout,
    ping: () => send(c.ping.frame()),
    timers: c.heartbeatTimers,
    dead: (silent) => {
      c.log.warn(`client ${id} silent for ${silent} ms: dropping it (heartbeat)`);
      void destroy({ code: ErrorCode.TIMEOUT, text: 'heartbeat timeout' });
    },
  });
  heartbeat.start();
  return heartbeat;
}

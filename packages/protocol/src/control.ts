import type { SocketMessage } from './message.js';

/**
 * Version announced in `hello`. 2 added the token challenge–response
 * (`auth_challenge` / `auth_proof`) and the event name in hello and welcome;
 * 3 added the monitor role and `stats`.
 */
export const PROTOCOL_VERSION = 3;

/** Reserved `data.op` values of library CONTROL messages (consumed, never delivered to user code). */
export const CONTROL_OPS = {
  HELLO: 'hello',
  WELCOME: 'welcome',
  PING: 'ping',
  PONG: 'pong',
  /** A monitor's statistics request and the server's answer (`role: "monitor"` in hello). */
  STATS: 'stats',
  /** server → client (protocol 2, token servers): the server's nonce and its proof. */
  AUTH_CHALLENGE: 'auth_challenge',
  /** client → server (protocol 2): the client's proof. */
  AUTH_PROOF: 'auth_proof',
} as const;

/** One of {@link CONTROL_OPS}. */
export type ControlOp = (typeof CONTROL_OPS)[keyof typeof CONTROL_OPS];

const reserved = new Set<string>(Object.values(CONTROL_OPS));

/** True for a CONTROL message whose `data.op` is reserved by the library. */
export function isReservedControl(message: SocketMessage): boolean {
  return message.messageType === 'control' && typeof message.data.op === 'string' && reserved.has(message.data.op);
}

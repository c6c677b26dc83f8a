import type { SocketMessage } from './message.js';

/** Version announced in `hello`. */
export const PROTOCOL_VERSION = 2;

/** Reserved `data.op` values of library CONTROL messages (consumed, never delivered to user code). */
export const CONTROL_OPS = {
  HELLO: 'hello',
  WELCOME: 'welcome',
  PING: 'ping',
  PONG: 'pong',
  /** A monitor's statistics request and the server's answer (`role: "monitor"` in hello). */
  STATS: 'stats',
} as const;

/** One of {@link CONTROL_OPS}. */
export type ControlOp = (typeof CONTROL_OPS)[keyof typeof CONTROL_OPS];

const reserved = new Set<string>(Object.values(CONTROL_OPS));

/** True for a CONTROL message whose `data.op` is reserved by the library. */
export function isReservedControl(message: SocketMessage): boolean {
  return message.messageType === 'control' && typeof message.data.op === 'string' && reserved.has(message.data.op);
}

/** Shared types of the benchmark coordinator and its worker processes. */
import type { SocketType } from 'socketkit';

/**
 * The transports (the built-in ones of socketkit's transport registry, see
 * `transports.ts`): every scenario runs over unix and tcp; `nats` (socketkit
 * through a local nats-server, no raw baseline) runs scenarios 1, 2 and 4 only.
 */
export type TransportKind = SocketType;

/** Transports with a raw `node:net` baseline and all six scenarios. */
export type SocketTransport = 'unix' | 'tcp';

/**
 * The implementations compared in one run:
 * - `socketkit`: the library (`@socketkit/unix` / `@socketkit/tcp` / `@socketkit/nats`).
 * - `raw-write`: hand-written `node:net` + msgpackr, one `socket.write` per frame.
 * - `raw-batched`: the ceiling: the same program copying frames into buffers of
 *   up to 64 KiB, one `socket.write` per buffer (shared by every socket on a broadcast).
 * - `zeromq`: zeromq.js (PUB/SUB, DEALER/ROUTER) over ipc:// and tcp://, msgpackr bodies.
 * - `python`: a small Python peer (`python/peer.py`, Debian python3-msgpack), same wire.
 * - `nats-raw`: plain nats.js publish → subscribe (and request/respond) through the same nats-server.
 */
export type Impl = 'socketkit' | 'raw-write' | 'raw-batched' | 'zeromq' | 'python' | 'nats-raw';

/** Every implementation, in table order. */
export const IMPLS: readonly Impl[] = ['socketkit', 'raw-write', 'raw-batched', 'zeromq', 'python', 'nats-raw'];

/** Where a server listens: a socket path (unix) or a port on 127.0.0.1 (tcp); zeromq adds its endpoints. */
export type Address = (
  | { transport: 'unix'; path: string; socketDir: string; eventName: string }
  | { transport: 'tcp'; host: string; port: number; eventName: string }
  | { transport: 'nats'; servers: string; eventName: string }
) & { zmq?: { pub: string; router: string } };

/** Result of a server-side broadcast loop. */
export interface BroadcastResult {
  /** hrtime (ns, CLOCK_MONOTONIC, comparable across processes) when the loop started. */
  t0: number;
  /** hrtime when the last frame was handed to the sockets. */
  t1: number;
  /** Bytes of one frame on the wire (length prefix included). */
  frameBytes: number;
}

/** Result of a client's wait for N messages. */
export interface CountResult {
  /** hrtime of the first counted message. */
  tFirst: number;
  /** hrtime of the last counted message. */
  tLast: number;
  /** Messages counted. */
  count: number;
}

/** Latency summary of a request/reply loop, in microseconds. */
export interface LatencyResult {
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  n: number;
}

/** Result of one writer's loop (ingress scenario). */
export interface WriteResult {
  tStart: number;
  tEnd: number;
  frameBytes: number;
}

/** Options of the slow-consumer broadcast. */
export interface SlowBroadcastOptions {
  /** Messages to offer. */
  count: number;
  /** Packed size of each message's `data`. */
  payloadBytes: number;
  /** Call `server.drain()` every this many bytes offered. */
  drainEveryBytes: number;
}

/** What the server saw during one slow-consumer (or unloaded) broadcast. */
export interface SlowBroadcastResult extends BroadcastResult {
  /** Clients connected when the loop started. */
  clientsAtStart: number;
  /** RSS (bytes) right before the loop (after a forced GC when available). */
  rssBase: number;
  /** Highest RSS sampled during the loop and until the slow client was closed. */
  rssPeak: number;
  /** Bytes offered (frame bytes × messages) when `send()` first reached fewer clients, or -1. */
  slowDroppedAtBytes: number;
  /** Highest pending bytes sampled for the dropped client (at the drain points), or -1. */
  slowPendingBytes: number;
  /** The error code seen in the server's warning (`SLOW_CONSUMER`) or ''. */
  slowCode: string;
  /** Why the policy applied, from the server's warning (e.g. `did not drain within 250 ms`). */
  slowWhy: string;
  /** The reason given by the `clientDisconnected` event for that client, or ''. */
  slowReason: string;
  /** ms from the loop start until the slow client's connection actually closed, or -1. */
  slowClosedAfterMs: number;
  /** Longest single `drain()` call (ms). */
  drainMaxMs: number;
  /** Total ms the producer spent in `drain()`. */
  drainWaitMs: number;
}

/** Messages between the coordinator and a worker (over the fork IPC channel). */
export interface WorkerRequest {
  id: number;
  cmd: string;
  args: Record<string, unknown>;
}

/** A worker's answer to a {@link WorkerRequest}. */
export type WorkerResponse = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

import type { ErrorCode, SocketError, SocketMessage } from '@socketkit/protocol';
import type { SocketLogger } from '../ops/logger.js';
import type { ServerCounters, ServerStats } from '../ops/stats.js';
import type { BatchShare } from '../wire/connection.js';
import type { HeartbeatTimers } from '../wire/heartbeat.js';
import type { ServerSettings } from './options.js';
import type { PongCache } from './replies.js';

/**
 * How many of one server's peers are `awaiting` and `registered` now, kept up to date by the peers as they change
 * state, so that admitting or registering a peer costs the same with 10 or 10,000 clients (no walk over every peer).
 */
export interface PeerCensus {
  awaiting: number;
  registered: number;
  /** State changes of any peer so far: the fan-out's shared run is valid while this does not move. */
  changes: number;
}

/** What every peer of one server shares (fixed for the server's life). */
export interface PeerContext {
  readonly eventName: string;
  readonly settings: ServerSettings;
  readonly log: SocketLogger;
  /** The shared secret, if the server requires one. */
  readonly token: string | undefined;
  /** Whole-server traffic counters (counted by every peer). */
  readonly counters: ServerCounters;
  /** The PONG frame, shared (a ping flood must not cost a frame build per ping). */
  readonly pong: PongCache;
  /** The heartbeat's PING frame, shared (a tick pings every client with one frame). */
  readonly ping: PongCache;
  /** The timers of every peer's heartbeat: one interval timer for all of them (see sharedTimers). */
  readonly heartbeatTimers: HeartbeatTimers;
  /** Shared by every peer's connection: a broadcast tick is concatenated once. */
  readonly batchShare?: BatchShare;
  /** Peers awaiting registration and registered, counted by the peers themselves. */
  readonly census: PeerCensus;
}

/**
 * What a peer asks of its server (`Peer` is the server's peer class,
 * {@link ServerPeer}; a parameter so that this file imports none of it).
 */
export interface PeerHost<Peer = unknown> {
  readonly context: PeerContext;
  /**
   * Registration, in one call: the server claims a client slot (refusing the
   * peer when full: then false), `enter` writes the peer's first frames
   * (welcome, what `takeQueue()` takes of the no-client queue, its held
   * broadcasts), then the server announces it (`clientConnected`).
   */
  register(peer: Peer, enter: (takeQueue: () => readonly Uint8Array[]) => void): boolean;
  /** The peer becomes a monitor: false (and the server has refused it) past `maxMonitors`. */
  claimMonitor(peer: Peer): boolean;
  /** Refuses a peer: ERROR + short linger, or an immediate close when too many refusals linger already. */
  refuse(peer: Peer, code: ErrorCode, text: string, replyTo?: string): void;
  /** An application message from a registered peer (or one registering with it). */
  onMessage(peer: Peer, message: SocketMessage): void;
  /** A peer reported a problem (a skipped message, bad framing). */
  onPeerError(peer: Peer, error: SocketError): void;
  /** A peer with `slowConsumerPolicy: 'drop'` dropped a message. */
  onDropped(peer: Peer, dropped: number): void;
  /** The peer's stream closed; `wasRegistered` tells whether it ever was a client. */
  onClosed(peer: Peer, wasRegistered: boolean): void;
  /** The server's statistics, for a monitor's `stats` request. */
  stats(): ServerStats;
}

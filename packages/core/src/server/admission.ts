import { ErrorCode } from '@socketkit/protocol';
import type { LogLimiter } from '../ops/log-limiter.js';
import type { SocketLogger } from '../ops/logger.js';
import type { ServerCounters } from '../ops/stats.js';
import type { PendingHandshake } from '../transport.js';
import type { PeerDescription, PeerRefusal, ServerSettings } from './options.js';
import type { PeerCensus } from './peer-host.js';
import type { ServerPeer } from './peer.js';

/** A connection in its transport's own handshake (TLS), counted under `maxUnauthenticated`. */
interface HandshakeEntry {
  readonly seq: number;
  readonly pending: PendingHandshake;
}

/** What {@link Admission} is given by its server. */
export interface AdmissionContext {
  readonly eventName: string;
  /** Transport kind (`unix`, `tcp`, ...), for refusal reports. */
  readonly transport: string;
  readonly settings: ServerSettings;
  /** The shared secret, if the server requires one. */
  readonly token: string | undefined;
  readonly log: SocketLogger;
  /** Rate-limited warnings (one line per key per second), shared with the server. */
  readonly warnings: LogLimiter;
  readonly counters: ServerCounters;
  /** The server's registry: every peer that is neither refused nor closed, in accept order. */
  readonly peers: Map<string, ServerPeer>;
  /** How many of those peers are awaiting and registered (kept by the peers). */
  readonly census: PeerCensus;
  /** A refusal happened (the server emits `peerRefused`; a listener that throws is rethrown apart). */
  refused(refusal: PeerRefusal): void;
  /** A peer was turned away because the server is full (the server emits `connectionRejected`). */
  rejected(code: ErrorCode): void;
}

/**
 * Who gets in, in one place: client slots (`maxConnections`), monitor
 * places (`maxMonitors`), the pre-admission bound (`maxUnauthenticated`,
 * TLS handshakes included, oldest silent connection evicted first) and
 * refusals (ERROR + `refuseLingerMs`, at most `maxRefusing` lingering;
 * every refusal counted in `stats().refused`, reported as `peerRefused`
 * and logged at most once per code per second).
 *
 * A peer holds a client slot only once registered: until then it waits
 * under the pre-admission bound, with or without a token, on every transport.
 */
export class Admission {
  readonly #c: AdmissionContext;
  /** Refused peers still lingering (bounded by `maxRefusing`). */
  readonly #refusing = new Set<ServerPeer>();
  /** Connections in their transport's own handshake (TLS), in accept order. */
  readonly #handshakes = new Set<HandshakeEntry>();
  /** Accept order across peers and transport handshakes (the oldest waiting one is evicted first). */
  #seq = 0;

  constructor(context: AdmissionContext) {
    this.#c = context;
  }

  /** Refused peers still lingering. */
  get refusing(): number {
    return this.#refusing.size;
  }

  /** Connections in their transport's own handshake (TLS). */
  get handshaking(): number {
    return this.#handshakes.size;
  }

  /**
   * A new connection: into the registry as `awaiting`, or (a full server
   * without a token, while monitors have room) kept in `accepted` until its
   * first frame shows whether it is a monitor; otherwise refused.
   */
  accept(peer: ServerPeer): void {
    const { settings: s, peers } = this.#c;
    peer.admissionSeq = ++this.#seq;
    if (this.#c.token === undefined && this.#slotsUsed() >= s.maxConnections) {
      // A monitor cannot be told apart before its hello: while monitors have
      // room, a full server waits for the first frame (bounded by maxMonitors).
      if (!s.exposeStats || this.#monitorPlaces(undefined) >= s.maxMonitors) {
        this.refuseFull(peer);
        return;
      }
      peers.set(peer.id, peer);
      peer.admitMonitorOnly(() => this.refuseFull(peer));
      return;
    }
    if (!this.#admissionRoom()) {
      this.refuse(
        peer,
        ErrorCode.ADMISSION_FULL,
        `server "${this.#c.eventName}" has ${this.#admissionBound()} connections authenticating ` +
          '(maxUnauthenticated): retry with backoff',
      );
      return;
    }
    peers.set(peer.id, peer);
    peer.admit();
  }

  /**
   * The transport accepted a connection that starts its own handshake (TLS):
   * count it under `maxUnauthenticated`.
   * @returns Its release (the handshake ended), or undefined when it was refused.
   */
  admitHandshake(pending: PendingHandshake): (() => void) | undefined {
    if (!this.#admissionRoom()) {
      pending.destroy();
      this.#c.counters.refuse(ErrorCode.ADMISSION_FULL);
      this.#report(
        ErrorCode.ADMISSION_FULL,
        `refused before its TLS handshake: ${this.#admissionBound()} connections are waiting to be admitted ` +
          '(maxUnauthenticated)',
        this.#describePending(pending),
      );
      return undefined;
    }
    const entry: HandshakeEntry = { seq: ++this.#seq, pending };
    this.#handshakes.add(entry);
    return () => {
      this.#handshakes.delete(entry);
    };
  }

  /** The peer asks for a client slot: false when the server is full (it has then been refused). */
  claimSlot(peer: ServerPeer): boolean {
    if (this.#slotsUsed() < this.#c.settings.maxConnections) return true;
    this.refuseFull(peer);
    return false;
  }

  /** The peer becomes a monitor: false (and it has been refused) past `maxMonitors`. */
  claimMonitor(peer: ServerPeer): boolean {
    const n = this.#monitorPlaces(peer);
    const max = this.#c.settings.maxMonitors;
    if (n < max) return true;
    this.refuse(
      peer,
      ErrorCode.MAX_CONNECTIONS,
      `server "${this.#c.eventName}" is already answering ${n} monitors (maxMonitors ${max}): retry in a moment`,
    );
    this.#c.rejected(ErrorCode.MAX_CONNECTIONS);
    return false;
  }

  /** Refuses a peer because the server is full (`MAX_CONNECTIONS`). */
  refuseFull(peer: ServerPeer): void {
    const max = this.#c.settings.maxConnections;
    this.refuse(
      peer,
      ErrorCode.MAX_CONNECTIONS,
      `server "${this.#c.eventName}" already has ${max} clients (maxConnections): retry later or raise maxConnections`,
    );
    this.#c.rejected(ErrorCode.MAX_CONNECTIONS);
  }

  /**
   * Refuses a peer: ERROR + short linger, or an immediate close (without
   * its ERROR) when `maxRefusing` refusals linger already. Counted and
   * reported once per peer.
   */
  refuse(peer: ServerPeer, code: ErrorCode, text: string, replyTo?: string): void {
    this.#c.peers.delete(peer.id);
    // Already refused or closing: counted and reported once.
    if (peer.state === 'closing' || peer.state === 'closed') return;
    this.#c.counters.refuse(code);
    this.#report(code, text, this.#describe(peer));
    if (this.#refusing.size >= this.#c.settings.maxRefusing) {
      void peer.destroy({ code, text });
      return;
    }
    this.#refusing.add(peer);
    void peer.refuse(code, text, replyTo);
  }

  /** The peer's stream closed. */
  closed(peer: ServerPeer): void {
    this.#refusing.delete(peer);
  }

  /** The server stops: the lingering refusals end within `refuseLingerMs`. */
  stop(): Promise<void>[] {
    return [...this.#refusing].map((p) => p.conn.end(this.#c.settings.refuseLingerMs));
  }

  /** Peers that hold a client slot: registered ones only, on every transport, with or without a token. */
  #slotsUsed(): number {
    return this.#c.census.registered;
  }

  /** Monitors and possible monitors (see admitMonitorOnly()), `except` one peer. */
  #monitorPlaces(except: ServerPeer | undefined): number {
    let n = 0;
    for (const p of this.#c.peers.values()) if (p !== except && p.holdsMonitorPlace) n++;
    return n;
  }

  /**
   * Most connections waiting to be admitted: `maxUnauthenticated` with a
   * token; without one, that plus the free client slots, so a burst of
   * clients that never say hello (Python peers, which register after the
   * grace) is never evicted while they could all be served.
   */
  #admissionBound(): number {
    const s = this.#c.settings;
    if (this.#c.token !== undefined) return s.maxUnauthenticated;
    return s.maxUnauthenticated + Math.max(0, s.maxConnections - this.#slotsUsed());
  }

  /**
   * Makes room under `maxUnauthenticated` for one more connection waiting to
   * be admitted: when the bound is reached, evicts the oldest silent one (a
   * peer that has not started its exchange, or a socket in its TLS
   * handshake) with `ADMISSION_FULL`. A token peer in its exchange (hello
   * answered with a challenge) is never evicted.
   * @returns false when no one may be evicted: refuse the newcomer.
   */
  #admissionRoom(): boolean {
    const waiting = this.#handshakes.size + this.#c.census.awaiting;
    const bound = this.#admissionBound();
    if (waiting < bound) return true;
    // Only at the bound: the walk for the oldest peer that may be evicted (the registry is in accept order).
    let oldestPeer: ServerPeer | undefined;
    for (const p of this.#c.peers.values()) {
      if (p.state === 'awaiting' && !p.inExchange) {
        oldestPeer = p;
        break;
      }
    }
    const oldestHandshake = this.#handshakes.values().next().value as HandshakeEntry | undefined;
    if (oldestHandshake !== undefined && (oldestPeer === undefined || oldestHandshake.seq < oldestPeer.admissionSeq)) {
      this.#handshakes.delete(oldestHandshake);
      oldestHandshake.pending.destroy();
      this.#c.counters.refuse(ErrorCode.ADMISSION_FULL);
      this.#report(
        ErrorCode.ADMISSION_FULL,
        `evicted in its TLS handshake: ${waiting} connections were waiting to be admitted ` +
          `(maxUnauthenticated ${bound})`,
        this.#describePending(oldestHandshake.pending),
      );
      return true;
    }
    if (oldestPeer === undefined) return false;
    this.#c.log.debug(
      `${waiting} connections waiting to be admitted (maxUnauthenticated ${bound}): ` +
        `evicting the oldest, ${oldestPeer.id}`,
    );
    this.refuse(
      oldestPeer,
      ErrorCode.ADMISSION_FULL,
      `evicted before being admitted: ${waiting} connections to "${this.#c.eventName}" were waiting ` +
        `(maxUnauthenticated ${bound}); a socketkit client retries with backoff; send hello at once`,
    );
    return true;
  }

  /** Who `peer` is, for `peerRefused` and the log. */
  #describe(peer: ServerPeer): PeerDescription {
    const stream = peer.conn.stream as { remoteAddress?: unknown; remotePort?: unknown };
    const d: PeerDescription = { id: peer.id, transport: this.#c.transport };
    if (typeof stream.remoteAddress === 'string' && stream.remoteAddress !== '')
      d.address =
        typeof stream.remotePort === 'number' ? `${stream.remoteAddress}:${stream.remotePort}` : stream.remoteAddress;
    return d;
  }

  #describePending(pending: PendingHandshake): PeerDescription {
    return { transport: this.#c.transport, ...(pending.address !== undefined ? { address: pending.address } : {}) };
  }

  /** Every refusal: a `peerRefused` event and a rate-limited warning (one line per code per second, then a summary). */
  #report(code: string, reason: string, peer: PeerDescription): void {
    const where = peer.address !== undefined ? ` ${peer.address}` : '';
    const who = `${peer.id ?? 'a connection'} (${peer.transport}${where})`;
    this.#c.warnings.warn(
      `refused:${code}`,
      `refused a connection to "${this.#c.eventName}" from ${who} with ${code}: ${reason}`,
    );
    try {
      this.#c.refused({ code, reason, peer });
    } catch (err) {
      // The application's listener threw: its own error, never the peer's.
      process.nextTick(() => {
        throw err;
      });
    }
  }
}

import { COALESCE_MAX_BATCH, COALESCE_MAX_FRAME, FrameRun, type OutFrame, SplitFrame } from '../wire/connection.js';
import type { PeerCensus } from './peer-host.js';
import type { ServerPeer } from './peer.js';
import type { NoClientQueue } from './queue.js';

/**
 * A broadcast to every peer that takes broadcasts (the rule is {@link ServerPeer.takesBroadcasts}), in one pass
 * over the peers: with 10,000 clients a pass is a walk through memory that no longer fits the CPU cache, so it is
 * walked once per message, not twice (counting the clients first). Registered clients get the frame as they come;
 * peers still awaiting registration (few, brief) once it is known whether any client took it: with none, the
 * frame is queued for the next client, and they take their share of the queue when they register. A split frame
 * (the sender's own large bins, written as they are) is joined into one buffer only where it is kept.
 * @returns How many registered clients it was written to.
 */
export function broadcastToPeers(peers: Iterable<ServerPeer>, frame: OutFrame, queue: NoClientQueue): number {
  let clients = 0;
  let sent = 0;
  let awaiting: ServerPeer[] | undefined;
  for (const p of peers) {
    if (!p.takesBroadcasts) continue;
    if (p.state === 'registered') {
      clients++;
      if (p.deliver(frame)) sent++;
    } else (awaiting ??= []).push(p);
  }
  serveAwaiting(awaiting, clients, frame, queue);
  return sent;
}

/** Peers awaiting registration get a broadcast once it is known whether any client took it (none: it is queued). */
function serveAwaiting(awaiting: ServerPeer[] | undefined, clients: number, frame: OutFrame, q: NoClientQueue): void {
  // Kept for the next client (the queue): a split frame (the sender's own bins) becomes one buffer, once.
  if (clients === 0 && frame instanceof SplitFrame) frame = frame.joined();
  const queuedAs = clients === 0 ? q.next : undefined;
  let droppedFor: ServerPeer[] | undefined;
  if (awaiting !== undefined)
    for (const p of awaiting) {
      if (queuedAs !== undefined) q.fannedOut(p, queuedAs);
      if (!p.deliver(frame) && queuedAs !== undefined) (droppedFor ??= []).push(p);
    }
  if (clients === 0) q.push(frame as Buffer, droppedFor);
}

/**
 * The server's fan-out of small frames: one shared {@link FrameRun} per tick. A broadcast appends its frame to the
 * run once; each client connection takes the run from the frame it joined at and writes its share once per tick
 * (one write per client per tick, one concatenation for all), so a tick of k broadcasts to n clients visits each
 * client once per tick, not k times. A full pass over the peers (each one checked against `maxPendingBytes`, in the
 * slow-consumer rule, and joining the run) happens only when something changed since the last one: a peer's state
 * (the census), a client leaving the run (it wrote something else: a reply, a ping, its order kept), a frame that
 * would take some client past its bound, peers awaiting registration, a large frame, a full run (64 KiB).
 */
export class BroadcastRun {
  #run = new FrameRun();
  /** Peers listed in the run (joined at least once; `writeRun` skips those that left). */
  #listed: ServerPeer[] = [];
  /** After a pass: clients in the run, the run's bytes at which the first of them reaches its bound. */
  #clients = 0;
  #limit = -1;
  /** What the last pass saw: census changes, departures from the run; -1: no pass valid. */
  #changes = -1;
  #left = 0;
  #scheduled = false;

  constructor(
    private readonly census: PeerCensus,
    private readonly queue: NoClientQueue,
  ) {}

  /**
   * Broadcasts `frame` to every peer that takes broadcasts (the rule is {@link ServerPeer.takesBroadcasts}).
   * @returns How many registered clients it was written to.
   */
  broadcast(peers: Iterable<ServerPeer>, frame: OutFrame): number {
    if (frame instanceof SplitFrame || frame.length >= COALESCE_MAX_FRAME) {
      this.#changes = -1;
      return broadcastToPeers(peers, frame, this.queue);
    }
    const run = this.#run;
    if (run.bytes + frame.length > COALESCE_MAX_BATCH) this.flush();
    else if (
      this.#changes === this.census.changes &&
      this.#left === run.left &&
      run.bytes + frame.length <= this.#limit
    ) {
      run.push(frame);
      return this.#clients;
    }
    return this.#pass(peers, frame);
  }

  /** Every client's share of the run handed to its stream now (a pass starts the next run). */
  flush(): void {
    const run = this.#run;
    const listed = this.#listed;
    this.#run = new FrameRun();
    this.#listed = [];
    this.#changes = -1;
    for (const p of listed) p.conn.writeRun(run);
  }

  readonly #tick = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  #pass(peers: Iterable<ServerPeer>, frame: Uint8Array): number {
    const run = this.#run;
    const f = frame.length;
    let clients = 0;
    let sent = 0;
    let joined = 0;
    let limit = Number.POSITIVE_INFINITY;
    let awaiting: ServerPeer[] | undefined;
    for (const p of peers) {
      if (!p.takesBroadcasts) continue;
      if (p.state !== 'registered') {
        (awaiting ??= []).push(p);
        continue;
      }
      clients++;
      const room = p.share(f);
      if (room >= 0) {
        if (p.conn.joinRun(run)) this.#listed.push(p);
        joined++;
        sent++;
        if (room < limit) limit = room;
      } else {
        // not in the run for this frame (over its bound, held, closing): the rule of deliver, in order
        p.conn.leaveRun();
        if (p.deliver(frame)) sent++;
      }
    }
    // Peers awaiting registration and the no-client queue: the one-pass rule, once the clients are known.
    if (awaiting !== undefined || clients === 0) serveAwaiting(awaiting, clients, frame, this.queue);
    if (joined > 0) {
      run.push(frame);
      if (!this.#scheduled) {
        this.#scheduled = true;
        process.nextTick(this.#tick);
      }
    }
    // valid for the next frames while every client is in the run and nothing changed
    const all = clients > 0 && joined === clients && awaiting === undefined;
    this.#clients = joined;
    this.#limit = all ? run.bytes + limit : -1;
    this.#changes = all ? this.census.changes : -1;
    this.#left = run.left;
    return sent;
  }
}

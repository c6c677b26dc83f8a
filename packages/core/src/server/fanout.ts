import { type OutFrame, SplitFrame } from '../wire/connection.js';
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
  // Kept for the next client (the queue): a split frame (the sender's own bins) becomes one buffer, once.
  if (clients === 0 && frame instanceof SplitFrame) frame = frame.joined();
  const queuedAs = clients === 0 ? queue.next : undefined;
  let droppedFor: ServerPeer[] | undefined;
  if (awaiting !== undefined)
    for (const p of awaiting) {
      if (queuedAs !== undefined) queue.fannedOut(p, queuedAs);
      if (!p.deliver(frame) && queuedAs !== undefined) (droppedFor ??= []).push(p);
    }
  if (clients === 0) queue.push(frame as Buffer, droppedFor);
  return sent;
}

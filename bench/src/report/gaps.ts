/**
 * What would close the gap of a missed target: one sentence per target, kept in one list ({@link GAPS}) and shown in
 * latest.md's "Where the time goes" section under the profile of the target's scenario, only where this run MISSED
 * the target (a met target's sentence is not shown).
 */
import type { ProfileSummary, Target } from './results.js';
import { profileLines } from './tables.js';

/**
 * Target key → what would close its gap. The key is the target's text as in the targets table; `{n}` in a key stands
 * for any number (`{n} idle clients connect to one server` is the 10,000 of a full run and the 2,000 of a quick one).
 */
export const GAPS: ReadonlyArray<readonly [key: string, text: string]> = [
  // issue 28: cold start, first messages, payload shapes, steady state (bench/src/scenarios/cold.ts)
  [
    'Cold burst ≥ 0.85× ceiling',
    'the extra is per-message work on both sides while V8 still runs unoptimised code: on the client the ' +
      'receive path (FramedConnection onMessage, decodeEnvelope into a message object, the inbox copy: ' +
      "~1.7× the raw client's self time in the round-5 profile) and 2× the raw program's GC; on the server " +
      "the copy of each frame into the tick's run and its concatenation. Closing it: hand `data` to " +
      'listeners without building the whole envelope object first (lazy envelope), no per-message inbox ' +
      "copy, and frames encoded straight into the run's buffer instead of copied into it.",
  ],
  [
    'Cold burst ≥ 3× zeromq.js',
    'the same per-message client cost as the ceiling row; zeromq.js awaits one send at a time, so this ' +
      "ratio moves with socketkit's own client CPU per message (lazy envelope, no inbox copy).",
  ],
  [
    'Fan-out, 10 clients ≥ 0.95× ceiling (steady state)',
    "the server side is not it: socketkit's server CPU per delivered message is at or below the ceiling " +
      "program's (round 5: 0.21–0.36 vs 0.21–0.41 µs, shared per-tick run). The 10 client processes cost " +
      'more per message than the raw clients (envelope decode into a message object, inbox), and on 2 cores' +
      ' 11 processes share the CPU, so the ratio follows host load. Closing it: the client receive path ' +
      '(lazy envelope, no per-message inbox copy).',
  ],
  [
    'Fan-out, 10 clients ≥ 3× zeromq.js',
    "client CPU per delivered message (see the ceiling row): zeromq.js's clients decode the same body; " +
      "the server side is already under the ceiling program's cost.",
  ],
  [
    'Broadcast, 1 client ≥ 3× zeromq.js',
    'client CPU per message: the socketkit client builds a message object per frame (envelope with two ' +
      "timestamps) where zeromq.js's subscriber decodes the body only.",
  ],
  [
    'Request/reply p50 ≤ 1.10× raw',
    'one request in flight: the gap is fixed work per round trip (a timer per request, the envelope with ' +
      "two timestamps both ways, the reply's validation); closing it: one shared timeout sweep for requests" +
      ' instead of a timer each.',
  ],
  [
    'Request/reply p99 ≤ 1.20× raw',
    'both sides spend about half their busy time in writeBuffer (the write syscall per request and per ' +
      'reply, as the raw program does); the rest of the tail is per-request bookkeeping: a timer armed and ' +
      'cleared per request (timers insert/unenroll in the profile) and its garbage. Closing it: one shared ' +
      'timeout sweep for pending requests instead of a timer each.',
  ],
  [
    '`await drain()` after every send costs ≤ 10 % vs never (server CPU / msg)',
    'with `await drain()` after each send the producer never ends a tick, and `needsDrain` counts the ' +
      "unwritten run, so every 16 KiB (the stream's high-water mark) drain() writes it: 16 KiB writes " +
      'instead of 64 KiB ones. A drain with nothing pending already costs nothing (one shared settled ' +
      'promise, no timer). Closing it: let `needsDrain` ignore an unwritten run below 64 KiB — a change of ' +
      'what drain() resolves on (documented as pending bytes under the high-water mark), to be decided with' +
      " the reliability suite's drain checks, then measured.",
  ],
  [
    '`socketkit send` end to end ≤ 1.5× raw script',
    'start-up: the import (see the import row) and the handshake round trip before the first message; ' +
      'closing it: the import levers below.',
  ],
  ['Payload seq-blob ≥ 3× zeromq.js', 'client CPU per message (envelope object, inbox copy), as for fan-out.'],
  [
    'Payload progress ≥ 3× zeromq.js',
    "encoding the nested object with socketkit's own writer (it checks every value for what plain msgpack" +
      ' cannot carry, for the typed INVALID_MESSAGE error) and decoding it into a message object with its ' +
      'envelope, where zeromq.js moves the body only; the figure sits near the bound (2.6–3.5× between unix' +
      ' and tcp in one run). Closing it: a check cached per object shape, and the lazy envelope of the ' +
      'cold-burst rows.',
  ],
  [
    'Payload binary-4k ≥ 3× zeromq.js',
    "the server copies each encoded 4 KiB frame into the tick's run and then joins the run (zero-copy " +
      'sends start at 16 KiB); closing it: bins of 1 KiB and more written as their own chunks of one writev' +
      ' instead of copied (measured next).',
  ],
  [
    'import of @socketkit/unix ≤ 25 ms',
    "what is left is socketkit's own code: compiling ~330 KB of bundles, config's valibot schemas built " +
      "at import and the resolution of 5 packages (msgpackr's native extractor and node:fs/promises now " +
      'load on first use). Node 20 has no compile cache for ES modules (module.enableCompileCache is Node ≥' +
      " 22.1); closing it: keep the server classes out of a client's import (~2 ms), build config schemas " +
      'on first use, and turn the compile cache on where Node has it.',
  ],
  // issue 28: idle clients (bench/src/scenarios/idle.ts)
  [
    '{n} idle clients connect to one server',
    'connects fail when the host is too loaded for the server to answer every first heartbeat within its ' +
      'timeout while it still accepts the backlog (seen at load > 20 in round 5); see the error in the idle' +
      ' table.',
  ],
  [
    'Fan-out CPU per delivered message, {n} clients ≤ {n}× at 10',
    'the server is near flat since the shared per-tick run (0.6–0.9 µs at 10,000 vs 0.38 at 10 in round ' +
      "5); the rise is the clients': at 10,000 each client gets ~20 messages in one read, so the fixed cost" +
      ' of a read (callback, slab, decode set-up) spreads over few messages. Closing it: a cheaper fixed ' +
      'cost per read on the client.',
  ],
  [
    'Server memory per idle client, {n} clients ≤ {n}× at 1,000',
    'see the idle table: the per-client figure at the largest point against the one at 1,000.',
  ],
  // issue 28, item 4: large messages and ingress (bench/src/report/targets.ts)
  [
    '64 KiB messages ≥ 1.5 GB/s and ahead of raw node',
    'the receiving client is the limit: in the profile above ~47 % of its busy time is the garbage ' +
      'collector and ~11 % `push` with `createUnsafeBuffer`, i.e. each 64 KiB message copied out of the ' +
      "read slab into a buffer of its own, because a 'message' listener may keep its bins and write into " +
      'them; the server mostly waits in writev. The Python peer reuses its receive buffer. Closing it: ' +
      'recycle read slabs that no kept view points into (the decoder would report which slabs a bin escaped' +
      ' from) so that 64 KiB messages stay views without fresh memory per message.',
  ],
  [
    'Ingress, 8 writers ≥ 0.95× raw ceiling',
    "the server's per-writer read and decode path (see the profile above); in round 5 this measured 1.64×" +
      " the ceiling on the same machine, so a miss here is the run's load rather than a fixed cost.",
  ],
  // issue 25: the broker (bench/src/scenarios/broker.ts)
  [
    'socketkit broker, memory: ≥ 20,000 tasks/s (8 workers, prefetch 4)',
    'the host is CPU-bound: on 2 cores 20,000 tasks/s needs at most ~95 µs of CPU per task summed over ' +
      'the broker, 8 workers and the submitter; round 5 measured 125 µs, of which the broker only ~34 µs. ' +
      "The rest is the clients' per-task cost (the @socketkit/broker client's context object and result per" +
      " task, and core's envelope per socketkit message); batch frames already cut frames per task to 0.25 " +
      '(workers) and 0.10 (submitters). Closing it: fewer objects per task in the worker (a context object ' +
      'reused per slot) and an envelope without the ISO timestamp between broker and client.',
  ],
  [
    'socketkit broker, durable: ≥ 5,000 tasks/s (8 workers, prefetch 4)',
    'an LMDB transaction costs ~380 µs of CPU (~300 of it the disk sync) whatever its size; the group ' +
      'commit puts every task accepted meanwhile in one, so a miss means transactions too small for the ' +
      "load: see the durable row's broker CPU.",
  ],
  [
    'socketkit broker, memory: ≥ 2× amqplib + RabbitMQ (memory)',
    "see the 20,000 tasks/s row: the clients' CPU per task; RabbitMQ's own CPU per task moves ~1.6× " +
      'between runs on this host, so compare CPU µs / task in the table too.',
  ],
  ['socketkit broker, memory: ≥ 2× BullMQ (memory)', 'see the 20,000 tasks/s row.'],
  [
    'socketkit broker, durable: ≥ 2× amqplib + RabbitMQ (durable)',
    "RabbitMQ's durable queue here is barely slower than its memory queue (it syncs in batches too), so " +
      "this asks the durable broker for ~13,000 tasks/s: ~50 µs less CPU per task than round 5's 184 " +
      '(broker ~66: one put per task plus one per outcome, each transaction ~380 µs; the workers and ' +
      'submitter get smaller batches than in memory mode). Closing it: fewer, larger transactions under ' +
      'load (commit when the previous one is done or 64 tasks wait), and the client-side levers of the ' +
      'memory rows.',
  ],
  ['socketkit broker, durable: ≥ 2× BullMQ (durable)', 'see the durable ≥ 2× RabbitMQ row.'],
  [
    'task round trip p50 (memory) ≤ 4× socketkit request/reply p50 (unix)',
    'one task at a time crosses three processes (submitter → broker → worker → broker → submitter); a ' +
      'miss is host load on the extra hop, or batching on the client holding a first message to the end of ' +
      'its tick.',
  ],
];

const keyPattern = (key: string): RegExp =>
  new RegExp(`^${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\\\{n\\\}/g, '[0-9][0-9,.]*')}$`);

const PATTERNS = GAPS.map(([key, text]) => [keyPattern(key), text] as const);

/** The sentence of {@link GAPS} for a target's text, if it has one. */
export function gapFor(target: string): string | undefined {
  return PATTERNS.find(([re]) => re.test(target))?.[1];
}

/**
 * The "Where the time goes" section: each profile, then under it the gap sentences of the missed targets that asked
 * for that profile; then the missed targets with a sentence and no profile. Empty without profiles and sentences.
 */
export function whereTheTimeGoes(profiles: readonly ProfileSummary[], targets: readonly Target[]): string[] {
  const missed = targets.filter((t) => t.met === false && gapFor(t.target) !== undefined);
  if (profiles.length === 0 && missed.length === 0) return [];
  // One profile serves unix and tcp (the hot path is shared); NATS has its own.
  const side = (transport: string): string => (transport === 'nats' ? 'nats' : 'socket');
  const line = (t: Target): string => `- ${t.target} (${t.transport}): what would close the gap: ${gapFor(t.target)}`;
  const out = ['## Where the time goes (profiles of missed targets)', ''];
  const shown = new Set<Target>();
  for (const p of profiles) {
    out.push('```', ...profileLines([p]), '```', '');
    const mine = missed.filter(
      (t) => !shown.has(t) && t.profile?.id === p.id && side(t.profile.transport) === side(p.transport),
    );
    for (const t of mine) shown.add(t);
    if (mine.length > 0) out.push(...mine.map(line), '');
  }
  const rest = missed.filter((t) => !shown.has(t));
  if (rest.length > 0) out.push('Missed targets without a profile:', '', ...rest.map(line), '');
  return out;
}

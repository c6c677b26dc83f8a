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
 * The lead replaces the "(to be measured)" placeholders.
 */
export const GAPS: ReadonlyArray<readonly [key: string, text: string]> = [
  // issue 28: cold start, first messages, payload shapes, steady state (bench/src/scenarios/cold.ts)
  ['Cold burst ≥ 0.85× ceiling', '(to be measured)'],
  ['Cold burst ≥ 3× zeromq.js', '(to be measured)'],
  ['Fan-out, 10 clients ≥ 0.95× ceiling (steady state)', '(to be measured)'],
  ['Fan-out, 10 clients ≥ 3× zeromq.js', '(to be measured)'],
  ['Broadcast, 1 client ≥ 3× zeromq.js', '(to be measured)'],
  ['Request/reply p50 ≤ 1.10× raw', '(to be measured)'],
  ['Request/reply p99 ≤ 1.20× raw', '(to be measured)'],
  ['`await drain()` after every send costs ≤ 10 % vs never (server CPU / msg)', '(to be measured)'],
  ['`socketkit send` end to end ≤ 1.5× raw script', '(to be measured)'],
  ['Payload seq-blob ≥ 3× zeromq.js', '(to be measured)'],
  ['Payload progress ≥ 3× zeromq.js', '(to be measured)'],
  ['Payload binary-4k ≥ 3× zeromq.js', '(to be measured)'],
  ['import of @socketkit/unix ≤ 25 ms', '(to be measured)'],
  // issue 28: idle clients (bench/src/scenarios/idle.ts)
  ['{n} idle clients connect to one server', '(to be measured)'],
  ['Fan-out CPU per delivered message, {n} clients ≤ {n}× at 10', '(to be measured)'],
  ['Server memory per idle client, {n} clients ≤ {n}× at 1,000', '(to be measured)'],
  // issue 25: the broker (bench/src/scenarios/broker.ts)
  ['socketkit broker, memory: ≥ 20,000 tasks/s (8 workers, prefetch 4)', '(to be measured)'],
  ['socketkit broker, durable: ≥ 5,000 tasks/s (8 workers, prefetch 4)', '(to be measured)'],
  ['socketkit broker, memory: ≥ 2× amqplib + RabbitMQ (memory)', '(to be measured)'],
  ['socketkit broker, memory: ≥ 2× BullMQ (memory)', '(to be measured)'],
  ['socketkit broker, durable: ≥ 2× amqplib + RabbitMQ (durable)', '(to be measured)'],
  ['socketkit broker, durable: ≥ 2× BullMQ (durable)', '(to be measured)'],
  ['task round trip p50 (memory) ≤ 4× socketkit request/reply p50 (unix)', '(to be measured)'],
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

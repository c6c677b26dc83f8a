/**
 * `BroadcastFilter`, with kiwipy's matching (kiwipy/filters.py):
 * - a string filter becomes a regular expression with `.` made literal and
 *   `*` turned into `.*` (so `*` matches any run of characters, dots
 *   included); every other character keeps its regular-expression meaning,
 *   exactly as in kiwipy;
 * - the match is anchored at the start only (Python's `re.match`): `a.b`
 *   also passes `a.bc`;
 * - a RegExp filter matches at the start too; any other value compares with `===`;
 * - a missing subject (or sender) passes every subject (or sender) filter;
 * - several subject filters are OR-ed, several sender filters too, and
 *   subject is AND-ed with sender.
 * `{ strict: true }` is socketkit's own stricter mode: only `*` is special
 * and the whole value must match (anchored at both ends).
 */

/** What a broadcast subscriber receives besides the body. */
export interface BroadcastInfo {
  /** The sender given to `broadcastSend`, if any. */
  sender?: string | undefined;
  /** The subject given to `broadcastSend`, if any. */
  subject?: string | undefined;
  /** The correlation id given to `broadcastSend`, if any. */
  correlationId?: string | undefined;
}

/** A broadcast subscriber: gets each broadcast's body and its sender/subject/correlation id. */
export type BroadcastSubscriber = (body: unknown, info: BroadcastInfo) => unknown;

/** One filter value: a pattern string, a RegExp, or any value compared with `===`. */
export type FilterValue = string | RegExp | number | boolean;

/** Options of {@link BroadcastFilter}. */
export interface BroadcastFilterOptions {
  /** Subject filter(s), OR-ed. */
  subject?: FilterValue | FilterValue[];
  /** Sender filter(s), OR-ed. */
  sender?: FilterValue | FilterValue[];
  /** Whole-value glob (only `*` special, anchored at both ends) instead of kiwipy's prefix regex (default false). */
  strict?: boolean;
}

type Check = (value: unknown) => boolean;

/** Escapes every regular-expression metacharacter. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function makeCheck(filter: FilterValue, strict: boolean): Check {
  if (typeof filter === 'string') {
    const source = strict
      ? `^(?:${filter.split('*').map(escapeRegExp).join('.*')})$`
      : `^(?:${filter.replace(/\./g, '[.]').replace(/\*/g, '.*')})`;
    const re = new RegExp(source);
    return (v) => typeof v === 'string' && re.test(v);
  }
  if (filter instanceof RegExp) {
    // Python's pattern.match: at position 0, not necessarily to the end.
    const re = new RegExp(filter.source, `${filter.flags.replace(/[gy]/g, '')}y`);
    return (v) => {
      if (typeof v !== 'string') return false;
      re.lastIndex = 0;
      return re.test(v);
    };
  }
  return (v) => v === filter;
}

const list = (v: FilterValue | FilterValue[] | undefined): FilterValue[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/**
 * Wraps a broadcast subscriber so it only sees broadcasts whose subject and
 * sender pass its filters (kiwipy's `BroadcastFilter`, see the module notes).
 *
 * @example
 * comm.addBroadcastSubscriber(new BroadcastFilter((body) => log(body), { subject: 'state.*' }));
 */
export class BroadcastFilter {
  readonly #subscriber: BroadcastSubscriber;
  readonly #subjects: Check[] = [];
  readonly #senders: Check[] = [];
  readonly #strict: boolean;
  readonly #subjectValues: FilterValue[] = [];
  readonly #changed = new Set<() => void>();

  constructor(subscriber: BroadcastSubscriber, options: BroadcastFilterOptions = {}) {
    if (typeof subscriber !== 'function') throw new TypeError('BroadcastFilter needs a subscriber function');
    this.#subscriber = subscriber;
    this.#strict = options.strict === true;
    for (const s of list(options.subject)) this.addSubjectFilter(s);
    for (const s of list(options.sender)) this.addSenderFilter(s);
  }

  /** Adds a subject filter (OR-ed with the others). */
  addSubjectFilter(filter: FilterValue): void {
    this.#subjects.push(makeCheck(filter, this.#strict));
    this.#subjectValues.push(filter);
    for (const f of this.#changed) f();
  }

  /**
   * The subject filters as given and the mode (a backend may push them down to its own routing, e.g. NATS wildcards).
   */
  get filters(): { readonly subjects: readonly FilterValue[]; readonly strict: boolean } {
    return { subjects: [...this.#subjectValues], strict: this.#strict };
  }

  /** @internal Calls `fn` when a subject filter is added; returns the function that stops it. */
  onSubjectsChanged(fn: () => void): () => void {
    this.#changed.add(fn);
    return () => this.#changed.delete(fn);
  }

  /** Adds a sender filter (OR-ed with the others). */
  addSenderFilter(filter: FilterValue): void {
    this.#senders.push(makeCheck(filter, this.#strict));
  }

  /** True when a broadcast with this sender and subject is filtered out (kiwipy's `is_filtered`). */
  isFiltered(sender: unknown, subject: unknown): boolean {
    if (
      subject !== undefined &&
      subject !== null &&
      this.#subjects.length > 0 &&
      !this.#subjects.some((c) => c(subject))
    )
      return true;
    if (sender !== undefined && sender !== null && this.#senders.length > 0 && !this.#senders.some((c) => c(sender)))
      return true;
    return false;
  }

  /** Calls the subscriber unless the broadcast is filtered out; returns what it returned (undefined when filtered). */
  call(body: unknown, info: BroadcastInfo): unknown {
    if (this.isFiltered(info.sender, info.subject)) return undefined;
    return this.#subscriber(body, info);
  }
}

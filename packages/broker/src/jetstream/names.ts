/**
 * Names of the JetStream backend: streams, consumers, subjects and KV keys
 * for one namespace, and the push-down of `BroadcastFilter` subjects to NATS
 * wildcards.
 */
import { BroadcastFilter, type FilterValue } from '../filter.js';

/** A NATS token (and KV key) for any string: kept as is when safe, else `=` + base64url. */
export function token(text: string): string {
  if (/^[A-Za-z0-9_-]{1,200}$/.test(text)) return text;
  return `=${Buffer.from(text, 'utf8').toString('base64url')}`;
}

/** Everything named after one namespace (`name` option, default `socketkit`). */
export interface Names {
  /** The namespace. */
  name: string;
  /** Work-queue stream of tasks. */
  taskStream: string;
  /** Subject tasks are published on. */
  taskSubject: string;
  /** The one durable pull consumer every task subscriber shares. */
  consumer: string;
  /** Stream of dead-lettered tasks. */
  deadStream: string;
  deadSubject: string;
  /** Work-queue stream capturing the max-deliveries advisories (so none is lost while nobody listens). */
  advisoryStream: string;
  advisorySubject: string;
  /** Its durable consumer. */
  advisoryConsumer: string;
  /** KV bucket of RPC identifiers. */
  rpcBucket: string;
  /** Subject of an RPC identifier. */
  rpc(identifier: string): string;
  /** Outcome inbox of one communicator. */
  outcomes(communicatorId: string): string;
  /** Where a submitter confirms the outcomes one communicator handed over. */
  confirms(communicatorId: string): string;
  /**
   * Prefix of broadcast subjects (`<prefix>.s.<subject>`, `<prefix>.n` without subject, `<prefix>.x` for a subject NATS
   * cannot carry).
   */
  broadcast: string;
}

/** The names of namespace `name` (letters, digits, `_`, `-`). */
export function names(name: string): Names {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name))
    throw new TypeError(`namespace "${name}" must be 1-64 letters, digits, "_" or "-"`);
  const up = name.toUpperCase().replace(/-/g, '_');
  const taskStream = `SK_${up}_TASKS`;
  return {
    name,
    taskStream,
    taskSubject: `sk.${name}.task`,
    consumer: 'workers',
    deadStream: `SK_${up}_DEAD`,
    deadSubject: `sk.${name}.dead`,
    advisoryStream: `SK_${up}_ADV`,
    advisorySubject: `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${taskStream}.workers`,
    advisoryConsumer: 'dead-letter',
    rpcBucket: `sk_${name}_rpc`,
    rpc: (identifier) => `sk.${name}.rpc.${token(identifier)}`,
    outcomes: (id) => `sk.${name}.out.${id}`,
    confirms: (id) => `sk.${name}.conf.${id}`,
    broadcast: `sk.${name}.bc`,
  };
}

const SAFE_SUBJECT = /^[^\s*>.]+(\.[^\s*>.]+)*$/;

/** The NATS subject a broadcast with kiwipy subject `subject` travels on. */
export function broadcastSubject(prefix: string, subject: string | undefined): string {
  if (subject === undefined) return `${prefix}.n`;
  if (subject.length <= 200 && SAFE_SUBJECT.test(subject)) return `${prefix}.s.${subject}`;
  return `${prefix}.x`;
}

/** Complete dot-separated tokens of the literal prefix of a pattern (the part before the first special character). */
function prefixTokens(literal: string): string[] {
  const parts = literal.split('.');
  parts.pop(); // the last part may be partial ("a.b" also matches "a.bc" in kiwipy's prefix match)
  return parts.every((p) => p.length > 0 && SAFE_SUBJECT.test(p)) ? parts : [];
}

/**
 * NATS subjects that carry every broadcast one subject filter can accept (a
 * superset; the filter is applied again on the client). `undefined` means
 * every broadcast subject.
 */
function pushDown(prefix: string, filter: FilterValue, strict: boolean): string[] | undefined {
  if (typeof filter !== 'string') return undefined;
  if (strict) {
    const star = filter.indexOf('*');
    if (star < 0) return [broadcastSubject(prefix, filter)]; // exact
    const tokens = prefixTokens(filter.slice(0, star));
    return tokens.length === 0 ? undefined : [`${prefix}.s.${tokens.join('.')}.>`, `${prefix}.x`];
  }
  const special = filter.search(/[^A-Za-z0-9_\-.]/);
  const literal = special < 0 ? filter : filter.slice(0, special);
  const tokens = prefixTokens(literal);
  // "a.b.*" is exact as "a.b.>" (a "." then anything); "a.b" needs "a.>" and the client-side prefix match.
  return tokens.length === 0 ? undefined : [`${prefix}.s.${tokens.join('.')}.>`, `${prefix}.x`];
}

/** The NATS subjects one broadcast subscriber needs (`[<prefix>.>]` when nothing can be pushed down). */
export function subscriberSubjects(prefix: string, fn: unknown): string[] {
  const all = [`${prefix}.>`];
  if (!(fn instanceof BroadcastFilter)) return all;
  const { subjects, strict } = fn.filters;
  if (subjects.length === 0) return all;
  const out = new Set<string>([`${prefix}.n`]); // a broadcast without subject passes every subject filter
  for (const f of subjects) {
    const s = pushDown(prefix, f, strict);
    if (s === undefined) return all;
    for (const x of s) out.add(x);
  }
  return [...out];
}

/** Drops subjects another one covers (`a.>` covers `a.b.>` and `a.b`), so no broadcast arrives twice. */
export function minimalSubjects(subjects: Iterable<string>): string[] {
  const set = [...new Set(subjects)];
  const covers = (w: string, s: string): boolean => w !== s && w.endsWith('.>') && s.startsWith(w.slice(0, -1));
  return set.filter((s) => !set.some((w) => covers(w, s))).sort();
}

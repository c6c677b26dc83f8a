import { ErrorCode, ValidationError } from '@socketkit/protocol';
import { MAX_TIMEOUT_MS } from './keys.js';

/**
 * The check of one constructor option: what it must be (`expected`, used in
 * the error text "port must be an integer 0–65535, got the string '9050'")
 * and the test. A rule with `keys` is a nested options object (`reconnect`,
 * `tls`) whose own keys are checked the same way.
 */
export interface OptionRule {
  /** What a valid value is, after "must be". */
  readonly expected: string;
  /** True for a valid value (never called with `undefined`: an absent option is always fine). */
  readonly test: (value: unknown) => boolean;
  /** The rules of a nested options object. */
  readonly keys?: OptionRules;
  /** Never show the value in an error (a token, a passphrase). */
  readonly secret?: boolean;
}

/** Every option key a constructor accepts, with its rule. */
export type OptionRules = Readonly<Record<string, OptionRule>>;

/**
 * The rules of an options type `T`: one rule for each of its keys, no more,
 * no less (a key added to the interface without a rule is a compile error).
 */
export type OptionRulesFor<T> = { readonly [K in keyof Required<T>]-?: OptionRule };

const isPlain = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isInt = (v: unknown, min: number, max: number): boolean =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** Building blocks of {@link OptionRules}. */
export const optionRule = {
  /** Any string. */
  string: (): OptionRule => ({ expected: 'a string', test: (v) => typeof v === 'string' }),
  /** A secret string (never shown in errors). */
  secret: (): OptionRule => ({ expected: 'a string', test: (v) => typeof v === 'string', secret: true }),
  /** `true` or `false`. */
  boolean: (): OptionRule => ({ expected: 'true or false', test: (v) => typeof v === 'boolean' }),
  /** An integer from `min` to `max` (no `max`: any safe integer from `min`; `orInfinity`: or `Infinity`). */
  int: (min: number, max?: number, orInfinity = false): OptionRule => ({
    expected: `${orInfinity ? 'Infinity or ' : ''}an integer ${max === undefined ? `>= ${min}` : `${min}–${max}`}`,
    test: (v) => isInt(v, min, max ?? Number.MAX_SAFE_INTEGER) || (orInfinity && v === Number.POSITIVE_INFINITY),
  }),
  /** A port, 0 (OS-assigned) to 65535. */
  port: (min = 0): OptionRule => ({ expected: `an integer ${min}–65535`, test: (v) => isInt(v, min, 65535) }),
  /** A timeout in ms: `Infinity` (none) or an integer 1–2^31−1. */
  timeoutMs: (): OptionRule => ({
    expected: `Infinity or an integer number of milliseconds 1–${MAX_TIMEOUT_MS}`,
    test: (v) => v === Number.POSITIVE_INFINITY || isInt(v, 1, MAX_TIMEOUT_MS),
  }),
  /** Any finite number from `min` to `max`. */
  number: (min: number, max: number): OptionRule => ({
    expected: `a number ${min}–${max}`,
    test: (v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max,
  }),
  /** One of the listed strings. */
  oneOf: (...values: readonly string[]): OptionRule => ({
    expected: `one of ${values.map((x) => `'${x}'`).join(', ')}`,
    test: (v) => typeof v === 'string' && values.includes(v),
  }),
  /** A path, or `false` for none. */
  fileOrFalse: (): OptionRule => ({
    expected: 'a file path or false',
    test: (v) => v === false || typeof v === 'string',
  }),
  /** A function. */
  function: (): OptionRule => ({ expected: 'a function', test: (v) => typeof v === 'function' }),
  /** An object (not checked further: a logger, a transport, options of another library). */
  object: (what = 'an object'): OptionRule => ({ expected: what, test: (v) => v !== null && typeof v === 'object' }),
  /** An object whose keys follow `keys`. */
  nested: (keys: OptionRules): OptionRule => ({ expected: 'an object', test: isPlain, keys }),
  /** An array of integers (ids). */
  intList: (): OptionRule => ({
    expected: 'an array of integers >= 0',
    test: (v) => Array.isArray(v) && v.every((x) => isInt(x, 0, 2 ** 32 - 1)),
  }),
  /** A map of strings (an environment). */
  stringMap: (): OptionRule => ({
    expected: 'an object of strings',
    test: (v) => isPlain(v) && Object.values(v).every((x) => x === undefined || typeof x === 'string'),
  }),
  /** Any of `rules`. */
  either: (...rules: OptionRule[]): OptionRule => ({
    expected: rules.map((r) => r.expected).join(' or '),
    test: (v) => rules.some((r) => r.test(v)),
  }),
} as const;

/**
 * How a value is shown in an error: `the string '9050'`, `the number 1.5`,
 * `true`, `null`, `an array`, `an instance of Buffer`.
 */
export function describeValue(value: unknown, secret = false): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string': {
      if (secret) return `a string of ${value.length} characters`;
      const text = JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value).slice(1, -1);
      return `the string '${text}'`;
    }
    case 'number':
      return `the number ${String(value)}`;
    case 'bigint':
      return `the bigint ${String(value)}n`;
    case 'boolean':
      return String(value);
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default: {
      const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
      return name === undefined || name === 'Object' || name === '' ? 'an object' : `an instance of ${name}`;
    }
  }
}

/** Levenshtein distance of `a` and `b`. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] as number) + 1,
        (cur[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] as number;
}

/**
 * The valid key nearest to `key` (case-insensitive edit distance), when it is
 * near enough to be a likely typo: at most 2 edits, or a third of the key's
 * length, or the key is the start of it (`maxRetry` → `maxRetries`).
 */
export function nearestKey(key: string, candidates: Iterable<string>): string | undefined {
  const lower = key.toLowerCase();
  const stem = lower.length >= 4 ? lower.slice(0, -1) : undefined;
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    const cl = c.toLowerCase();
    // A key that starts the candidate (`maxRetry` of `maxRetries`) beats any edit distance.
    const score = stem !== undefined && cl.startsWith(stem) ? -1 : editDistance(lower, cl);
    if (score < bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return bestScore <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function invalid(message: string, details: Record<string, unknown>): ValidationError {
  return new ValidationError(ErrorCode.INVALID_CONFIG, message, { details });
}

/**
 * Checks a constructor's options object as plain JavaScript passes it: every
 * key must be one of `rules` (an unknown key is refused, naming the nearest
 * valid one: `unknown option 'socketdir' for UnixSocketClient: did you mean
 * 'socketDir'?`), and every value that is not `undefined` must pass its
 * rule (`port must be an integer 0–65535, got the string '9050'`). Nested
 * objects (`reconnect`, `tls`) are checked the same way, their keys named
 * with a dotted path.
 *
 * @param owner The constructor or function, named in the errors.
 * @throws ValidationError `INVALID_CONFIG` with `details.key` (the dotted
 *   path), and `details.suggestion` for an unknown key.
 */
export function checkOptions(options: unknown, rules: OptionRules, owner: string, prefix = ''): void {
  if (!isPlain(options)) {
    throw invalid(`the options of ${owner} must be an object, got ${describeValue(options)}`, {
      key: prefix.slice(0, -1) || undefined,
    });
  }
  for (const key of Object.keys(options)) {
    const rule = Object.hasOwn(rules, key) ? rules[key] : undefined;
    const path = `${prefix}${key}`;
    if (rule === undefined) {
      const near = nearestKey(key, Object.keys(rules));
      const hint =
        near !== undefined
          ? `did you mean '${prefix}${near}'?`
          : `the options are ${Object.keys(rules).sort().join(', ')}`;
      throw invalid(`unknown option '${path}' for ${owner}: ${hint}`, {
        key: path,
        ...(near !== undefined ? { suggestion: `${prefix}${near}` } : {}),
      });
    }
    const value = options[key];
    if (value === undefined) continue;
    if (!rule.test(value)) {
      throw invalid(`${path} must be ${rule.expected}, got ${describeValue(value, rule.secret)} (${owner})`, {
        key: path,
        expected: rule.expected,
      });
    }
    if (rule.keys !== undefined) checkOptions(value, rule.keys, owner, `${path}.`);
  }
}

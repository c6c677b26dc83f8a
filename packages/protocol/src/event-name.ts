import { ErrorCode, ValidationError } from './errors.js';

/** Longest event name accepted (characters). */
export const MAX_EVENT_NAME_LENGTH = 64;

/** Pattern every event name must match: letters, digits, `_` and `-`, 1–64 characters. */
export const EVENT_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;

/**
 * The last name that passed: a server, client or connection uses one name, so the regex runs once per name, not per
 * message (per message it showed in the profile of a broadcast).
 */
let lastValid: string | undefined;

/** True when `name` is a valid event name (see {@link EVENT_NAME_PATTERN}). */
export function isValidEventName(name: unknown): name is string {
  if (typeof name !== 'string') return false;
  if (name === lastValid) return true;
  if (!EVENT_NAME_PATTERN.test(name)) return false;
  lastValid = name;
  return true;
}

/**
 * Returns `name` when it is a valid event name, else throws
 * {@link ValidationError} with code `INVALID_EVENT_NAME`. Event names become
 * file names and subjects, so anything that could traverse paths is refused
 * here, before any file is touched.
 */
export function validateEventName(name: unknown): string {
  if (isValidEventName(name)) return name;
  const shown =
    typeof name === 'string' ? JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name) : String(name);
  throw new ValidationError(
    ErrorCode.INVALID_EVENT_NAME,
    `invalid event name ${shown}: use 1-${MAX_EVENT_NAME_LENGTH} characters from a-z, A-Z, 0-9, "_" and "-"`,
    { details: { eventName: name } },
  );
}

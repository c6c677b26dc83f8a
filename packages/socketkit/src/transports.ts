import { ErrorCode, ValidationError } from '@socketkit/protocol';
import type { TransportModules } from './optional-peers.js';

export type { TransportModules };

/** The transports socketkit can create: `SocketType.UNIX` (`"unix"`), `SocketType.TCP` (`"tcp"`) and `SocketType.NATS` (`"nats"`). */
export const SocketType = {
  UNIX: 'unix',
  TCP: 'tcp',
  NATS: 'nats',
} as const;

/** `"unix" | "tcp" | "nats"`. */
export type SocketType = (typeof SocketType)[keyof typeof SocketType];

/** The npm package that implements each transport (an optional peer dependency of `socketkit`). */
export const TRANSPORT_PACKAGES: Readonly<Record<SocketType, string>> = Object.freeze({
  unix: '@socketkit/unix',
  tcp: '@socketkit/tcp',
  nats: '@socketkit/nats',
});

// The module specifier actually imported per type. Only tests change it
// (to simulate a package that is not installed).
const specifiers: Record<SocketType, string> = { ...TRANSPORT_PACKAGES };
const loaded = new Map<SocketType, Promise<unknown>>();

/** True when `value` is one of {@link SocketType}. */
export function isSocketType(value: unknown): value is SocketType {
  return value === SocketType.UNIX || value === SocketType.TCP || value === SocketType.NATS;
}

/**
 * Throws ValidationError `INVALID_CONFIG` unless `type` is `"unix"`, `"tcp"` or `"nats"`.
 * @returns `type`, narrowed.
 */
export function validateSocketType(type: unknown): SocketType {
  if (isSocketType(type)) return type;
  throw new ValidationError(ErrorCode.INVALID_CONFIG, `unknown socket type ${JSON.stringify(type)}: use "unix" (SocketType.UNIX), "tcp" (SocketType.TCP) or "nats" (SocketType.NATS)`, {
    details: { type },
  });
}

function isMissingModule(err: unknown, specifier: string): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e === undefined || e === null || (e.code !== 'ERR_MODULE_NOT_FOUND' && e.code !== 'MODULE_NOT_FOUND')) return false;
  // Only the package itself missing counts; a broken install of one of its
  // own dependencies must surface as the original error.
  return typeof e.message === 'string' && (e.message.includes(`'${specifier}'`) || e.message.includes(`"${specifier}"`));
}

/**
 * Imports the package of a transport the first time it is asked for (the
 * other transport is never loaded).
 *
 * @throws ValidationError `INVALID_CONFIG` for an unknown type, or when the
 *   package is not installed; the message says which `npm install` to run.
 */
export async function loadTransport<T extends SocketType>(type: T): Promise<TransportModules[T]> {
  validateSocketType(type);
  let pending = loaded.get(type);
  if (pending === undefined) {
    const specifier = specifiers[type];
    pending = import(specifier).catch((err: unknown) => {
      loaded.delete(type);
      if (!isMissingModule(err, specifier)) throw err;
      const pkg = TRANSPORT_PACKAGES[type];
      throw new ValidationError(
        ErrorCode.INVALID_CONFIG,
        `the "${type}" transport needs the package ${pkg}, which is not installed: run npm install ${pkg}`,
        { cause: err, details: { type, package: pkg } },
      );
    });
    loaded.set(type, pending);
  }
  return (await pending) as TransportModules[T];
}

/**
 * Testing hook: imports `specifier` instead of the real package for `type`
 * (e.g. a name that does not exist, to see the "not installed" error).
 * Call with no specifier to restore the default.
 * @internal
 */
export function setTransportSpecifierForTesting(type: SocketType, specifier?: string): void {
  specifiers[type] = specifier ?? TRANSPORT_PACKAGES[type];
  loaded.delete(type);
}

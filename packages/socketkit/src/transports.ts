import { ErrorCode, ValidationError } from '@socketkit/protocol';
import { loadConfig } from '@socketkit/config';
import type { ClientTransport, SocketClient, SocketServer } from '@socketkit/core';
import type { TransportModules } from './optional-peers.js';
import { NATS_CLI, TCP_CLI, type TransportCli, UNIX_CLI, checkTransportCli } from './transport-cli.js';

export type { TransportModules };

/**
 * The transports socketkit can create: `SocketType.UNIX` (`"unix"`), `SocketType.TCP` (`"tcp"`) and `SocketType.NATS`
 * (`"nats"`).
 */
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

/** What a transport's implementation provides to the registry: a server and a client for an event. */
export interface TransportImplementation {
  /** A server for `options.eventName` (not started). */
  createServer(options: { eventName: string } & Record<string, unknown>): SocketServer;
  /** A client for `options.eventName` (not connected). */
  createClient(options: { eventName: string } & Record<string, unknown>): SocketClient;
  /**
   * A client transport a monitor asks a server's stats through (`fetchStats`), from the options the transport's
   * CLI flags made (`socketkit stats`; declare {@link TransportCli.stats}). Optional.
   */
  createStatsTransport?(options: { eventName: string } & Record<string, unknown>): ClientTransport;
}

/** One entry of the transport registry. */
export interface TransportDefinition {
  /** The npm package that implements it (named in the "not installed" error). */
  package: string;
  /** Loads the implementation (called once, on first use). */
  load(): Promise<TransportImplementation>;
  /**
   * Its flags for the `socketkit` CLI and how they map to its options: the CLI builds its parser, help and
   * options from these, so a registered transport needs no change to the CLI. Optional (no flags).
   */
  cli?: TransportCli;
}

// The one table of transports: createServer/createClient, the CLI's
// --transport and anything else that lists transports read it.
const registry = new Map<string, TransportDefinition>();

/**
 * Registers a transport under `name` (lower-case letters, digits, `-`), so
 * `createServer(name, ...)`, `createClient(name, ...)` and the CLI's
 * `--transport` accept it: the extension point for new socket types.
 * @throws ValidationError `INVALID_CONFIG` for a bad or already registered name.
 */
export function registerTransport(name: string, definition: TransportDefinition): void {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `invalid transport name ${JSON.stringify(name)}: use lower-case letters, digits and "-"`,
      {
        details: { name },
      },
    );
  }
  if (registry.has(name)) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `a transport named "${name}" is already registered: choose another name`,
      { details: { name } },
    );
  }
  if (definition.cli !== undefined) {
    const others = new Map<string, TransportCli>();
    for (const [n, d] of registry) if (d.cli !== undefined) others.set(n, d.cli);
    checkTransportCli(name, definition.cli, others);
  }
  registry.set(name, definition);
}

/** The CLI declaration of a registered transport ({@link TransportDefinition.cli}), if it has one. */
export function transportCli(name: string): TransportCli | undefined {
  return registry.get(name)?.cli;
}

/** Names of every registered transport, built-in ones first. */
export function transportNames(): string[] {
  return [...registry.keys()];
}

/** True when `value` names a registered transport ({@link SocketType} or one added with {@link registerTransport}). */
export function isSocketType(value: unknown): value is SocketType {
  return typeof value === 'string' && registry.has(value);
}

/**
 * Throws ValidationError `INVALID_CONFIG` unless `type` names a registered transport.
 * @returns `type`, narrowed.
 */
export function validateSocketType(type: unknown): SocketType {
  if (isSocketType(type)) return type;
  const names = transportNames()
    .map((n) => JSON.stringify(n))
    .join(', ');
  throw new ValidationError(
    ErrorCode.INVALID_CONFIG,
    `unknown socket type ${JSON.stringify(type)}: use one of ${names} (SocketType.UNIX, SocketType.TCP, ` +
      `SocketType.NATS), or registerTransport() your own`,
    {
      details: { type },
    },
  );
}

const implementations = new Map<string, Promise<TransportImplementation>>();

/**
 * The implementation of a registered transport, loaded on first use.
 * @throws ValidationError `INVALID_CONFIG` for an unknown type or a package that is not installed.
 */
export function transportImplementation(type: string): Promise<TransportImplementation> {
  validateSocketType(type);
  let pending = implementations.get(type);
  if (pending === undefined) {
    pending = (registry.get(type) as TransportDefinition).load();
    pending.catch(() => implementations.delete(type));
    implementations.set(type, pending);
  }
  return pending;
}

function isMissingModule(err: unknown, specifier: string): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e === undefined || e === null || (e.code !== 'ERR_MODULE_NOT_FOUND' && e.code !== 'MODULE_NOT_FOUND'))
    return false;
  // Only the package itself missing counts; a broken install of one of its
  // own dependencies must surface as the original error.
  return (
    typeof e.message === 'string' && (e.message.includes(`'${specifier}'`) || e.message.includes(`"${specifier}"`))
  );
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
  if (!Object.hasOwn(TRANSPORT_PACKAGES, type)) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `"${type}" is not a built-in transport: use transportImplementation() for registered ones`,
      {
        details: { type },
      },
    );
  }
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
        {
          cause: err,
          details: { type, package: pkg },
        },
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
  implementations.delete(type);
}

// The built-in transports, through the same registry a third party uses.
registerTransport(SocketType.UNIX, {
  package: TRANSPORT_PACKAGES.unix,
  load: async () => {
    const m = await loadTransport('unix');
    return {
      createServer: (o) => new m.UnixSocketServer(o),
      createClient: (o) => new m.UnixSocketClient(o),
      createStatsTransport: (o) => {
        const socketDir = (o.socketDir as string | undefined) ?? loadConfig().socketDir;
        return new m.UnixClientTransport(socketDir, o.eventName);
      },
    };
  },
  cli: UNIX_CLI,
});
registerTransport(SocketType.TCP, {
  package: TRANSPORT_PACKAGES.tcp,
  load: async () => {
    const m = await loadTransport('tcp');
    return {
      createServer: (o) => new m.TcpSocketServer(o),
      createClient: (o) => new m.TcpSocketClient(o),
      // A monitor by --port, or by the address file in the socket directory.
      createStatsTransport: (o) =>
        new m.TcpClientTransport({
          host: (o.host as string | undefined) ?? loadConfig().tcp.host,
          ...(o.port === undefined ? {} : { port: o.port as number }),
          eventName: o.eventName,
          socketDir: (o.socketDir as string | undefined) ?? loadConfig().socketDir,
          ...(o.tls === undefined ? {} : { tls: o.tls as Record<string, unknown> }),
        }),
    };
  },
  cli: TCP_CLI,
});
registerTransport(SocketType.NATS, {
  package: TRANSPORT_PACKAGES.nats,
  load: async () => {
    const m = await loadTransport('nats');
    return { createServer: (o) => new m.NatsSocketServer(o), createClient: (o) => new m.NatsSocketClient(o) };
  },
  cli: NATS_CLI,
});

import { DEFAULT_CONFIG } from '@socketkit/config';
import { ErrorCode, ValidationError } from '@socketkit/protocol';

/** The commands of the `socketkit` CLI that reach a server through a transport (the ones a transport flag can join). */
export type TransportCliCommand = 'serve' | 'listen' | 'send' | 'request' | 'stats';

const COMMANDS: TransportCliCommand[] = ['serve', 'listen', 'send', 'request', 'stats'];
/** Every {@link TransportCliCommand}: where a flag without `commands` belongs. */
export const TRANSPORT_CLI_COMMANDS: readonly TransportCliCommand[] = Object.freeze(COMMANDS);

/** Server/client options, as the transport's `createServer` / `createClient` take them. */
export type CliOptions = Record<string, unknown>;

/** A transport's flag values as given on one command line (`undefined` when absent, `true` for a given switch). */
export type TransportCliValues = Readonly<Record<string, string | boolean | undefined>>;

/**
 * One command-line flag a transport declares (a plain description: the
 * transport knows nothing of the CLI, the CLI nothing of the transport).
 */
export interface TransportCliFlag {
  /** The long name without `--`: a lower-case letter, then lower-case letters, digits and `-`. */
  readonly name: string;
  /** `string` takes a value (`--port 9000`); `boolean` is a switch (`--allow-insecure`). */
  readonly type: 'string' | 'boolean';
  /** The value's placeholder in the help, e.g. `PORT` (string flags). */
  readonly value?: string;
  /**
   * Help text; each `\n` starts a continuation line. When only one transport
   * declares the flag, the help shows it as `<transport>: <help>`.
   */
  readonly help: string;
  /**
   * The commands the flag belongs to, shown in their own options. Absent:
   * every {@link TransportCliCommand}, shown under "common options".
   */
  readonly commands?: readonly TransportCliCommand[];
  /**
   * How the error for this flag on another transport names it (default
   * `--<name>`), e.g. `--host and --port`: "--host and --port apply to
   * --transport tcp" (a label with " and " takes "apply").
   */
  readonly label?: string;
  /** The server/client option the value is set under; omit when {@link TransportCli.options} builds it. */
  readonly option?: string;
  /**
   * Checks and converts the value before it is set under `option` (default:
   * the value as given).
   * @throws ValidationError `INVALID_CONFIG` whose message says what to fix (the CLI shows it as a usage error).
   */
  readonly parse?: (value: string | boolean, command: TransportCliCommand) => unknown;
}

/** What a transport declares for the `socketkit` CLI: its flags and how they become its options. */
export interface TransportCli {
  /** The transport's own flags, in the order of the help. A flag several transports share is one object. */
  readonly flags: readonly TransportCliFlag[];
  /**
   * The rules between flags no single flag states, e.g. "--tls-cert and
   * --tls-key go together". Gets the values of this transport's flags and the
   * options their `option`/`parse` made.
   * @returns The server/client options to use.
   * @throws ValidationError `INVALID_CONFIG` whose message says what to fix (the CLI shows it as a usage error).
   */
  readonly options?: (values: TransportCliValues, options: CliOptions, command: TransportCliCommand) => CliOptions;
  /**
   * `socketkit stats` reads servers of this transport: its implementation has
   * `createStatsTransport`. Default false.
   */
  readonly stats?: boolean;
}

function usage(message: string, details: Record<string, unknown> = {}): ValidationError {
  return new ValidationError(ErrorCode.INVALID_CONFIG, message, { details });
}

/**
 * A flag value that must not be blank.
 * @throws ValidationError `INVALID_CONFIG` "--<flag> must not be empty".
 */
export function nonEmptyFlag(flag: string): (value: string | boolean) => string {
  return (value) => {
    const text = String(value);
    if (text.trim() === '') throw usage(`--${flag} must not be empty`, { flag });
    return text;
  };
}

/**
 * A flag value that must be a decimal integer from `min` to `max`.
 * @throws ValidationError `INVALID_CONFIG` "--<flag> must be an integer <min>-<max>, got ...".
 */
export function integerFlag(flag: string, value: string, min: number, max: number): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw usage(`--${flag} must be an integer ${min}-${max}, got ${JSON.stringify(value)}`, { flag, value });
  }
  return n;
}

const { socketDir, tcp } = DEFAULT_CONFIG;

/** `--socket-dir`, shared by the transports whose servers live in the socket directory (unix, tcp). */
export const SOCKET_DIR_FLAG: TransportCliFlag = Object.freeze<TransportCliFlag>({
  name: 'socket-dir',
  type: 'string',
  value: 'DIR',
  help: `directory of the socket file (unix) or of the address file {event}.tcp (tcp)
(default $SOCKET_DIR or ${socketDir})`,
  option: 'socketDir',
  parse: nonEmptyFlag('socket-dir'),
});

/** The `socketkit` CLI flags of the unix transport. */
export const UNIX_CLI: TransportCli = Object.freeze<TransportCli>({
  flags: Object.freeze([SOCKET_DIR_FLAG]),
  stats: true,
});

const HOST_PORT = '--host and --port';
const TCP_ONLY = '--tls-* and --allow-insecure';

/** The `socketkit` CLI flags of the tcp transport (and its TLS rules). */
export const TCP_CLI: TransportCli = Object.freeze<TransportCli>({
  flags: Object.freeze<TransportCliFlag[]>([
    SOCKET_DIR_FLAG,
    {
      name: 'host',
      type: 'string',
      value: 'HOST',
      help: `host (default $SOCKET_TCP_HOST or ${tcp.host})`,
      label: HOST_PORT,
      option: 'host',
      parse: nonEmptyFlag('host'),
    },
    {
      name: 'port',
      type: 'string',
      value: 'PORT',
      help:
        "port (default: serve reuses the event's previous port, else the first free\n" +
        `port of ${tcp.portRangeStart}-${tcp.portRangeEnd}, and publishes it in {socket-dir}/{event}.tcp; clients\n` +
        'on the same host read it there; across hosts --port is required)',
      label: HOST_PORT,
      option: 'port',
      parse: (value, command) => integerFlag('port', String(value), command === 'serve' ? 0 : 1, 65535),
    },
    {
      name: 'tls-cert',
      type: 'string',
      value: 'FILE',
      help: 'PEM certificate (serve: required for TLS; clients: for mutual TLS)',
      label: TCP_ONLY,
    },
    { name: 'tls-key', type: 'string', value: 'FILE', help: 'PEM private key of --tls-cert', label: TCP_ONLY },
    {
      name: 'tls-ca',
      type: 'string',
      value: 'FILE',
      help: "PEM CA to verify the peer with (clients: the server's CA; serve: client CA)",
      label: TCP_ONLY,
    },
    {
      name: 'tls-request-cert',
      type: 'boolean',
      help: 'require a client certificate signed by --tls-ca (mutual TLS)',
      commands: ['serve'],
      label: TCP_ONLY,
    },
    {
      name: 'allow-insecure',
      type: 'boolean',
      help: 'bind a non-loopback --host without token or TLS (refused otherwise)',
      commands: ['serve'],
      label: TCP_ONLY,
      option: 'allowInsecure',
    },
  ]),
  options: (values, options, command) => {
    const cert = values['tls-cert'] as string | undefined;
    const key = values['tls-key'] as string | undefined;
    const ca = values['tls-ca'] as string | undefined;
    const requestCert = values['tls-request-cert'] === true;
    const anyTls = cert !== undefined || key !== undefined || ca !== undefined || requestCert;
    if ((cert === undefined) !== (key === undefined)) throw usage('--tls-cert and --tls-key go together');
    if (command === 'serve' && anyTls && cert === undefined) {
      throw usage('serve with TLS needs --tls-cert and --tls-key');
    }
    if (requestCert && ca === undefined) {
      throw usage('--tls-request-cert needs --tls-ca (the CA of the client certificates)');
    }
    if (!anyTls) return options;
    const tls = {
      ...(cert !== undefined ? { cert } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(ca !== undefined ? { ca } : {}),
      ...(requestCert ? { requestCert } : {}),
    };
    return { ...options, tls };
  },
  stats: true,
});

/** The `socketkit` CLI flags of the nats transport. */
export const NATS_CLI: TransportCli = Object.freeze<TransportCli>({
  flags: Object.freeze<TransportCliFlag[]>([
    {
      name: 'servers',
      type: 'string',
      value: 'URLS',
      help: 'NATS server URL(s), comma-separated (default $SOCKET_NATS_SERVERS or nats://127.0.0.1:4222)',
      option: 'servers',
      parse: (value) =>
        nonEmptyFlag('servers')(value)
          .split(',')
          .map((u) => u.trim()),
    },
  ]),
});

const FLAG_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/**
 * Checks a transport's CLI declaration against itself and the flags other
 * transports declared (a shared name must be the same kind of flag).
 * @throws ValidationError `INVALID_CONFIG` naming the flag and the fix.
 */
export function checkTransportCli(name: string, cli: TransportCli, others: ReadonlyMap<string, TransportCli>): void {
  const bad = (message: string, flag: string): ValidationError => {
    return usage(`transport "${name}": ${message}`, { name, flag });
  };
  const seen = new Set<string>();
  for (const f of cli.flags) {
    if (typeof f?.name !== 'string' || !FLAG_NAME.test(f.name)) {
      const shown = JSON.stringify(f?.name);
      throw bad(`invalid CLI flag name ${shown}: use lower-case letters, digits and "-"`, String(f?.name));
    }
    if (f.type !== 'string' && f.type !== 'boolean') throw bad(`--${f.name} needs type "string" or "boolean"`, f.name);
    if (typeof f.help !== 'string' || f.help.trim() === '') throw bad(`--${f.name} needs a help text`, f.name);
    if (seen.has(f.name)) throw bad(`--${f.name} is declared twice`, f.name);
    seen.add(f.name);
    for (const [other, o] of others) {
      const same = o.flags.find((g) => g.name === f.name);
      if (same !== undefined && same.type !== f.type) {
        const fix = 'declare it the same way or rename it';
        throw bad(`--${f.name} is a ${same.type} flag of "${other}" already: ${fix}`, f.name);
      }
    }
  }
}

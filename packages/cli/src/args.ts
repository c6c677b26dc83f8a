import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import {
  DEFAULT_CONFIG,
  LOG_LEVELS,
  MAX_TIMEOUT_SECONDS,
  TRANSPORT_CLI_COMMANDS,
  TRANSPORT_PACKAGES,
  isSocketType,
  isValidEventName,
  transportCli,
  transportNames,
  type LogLevel,
  type SocketType,
  type TransportCliCommand,
  type TransportCliFlag,
} from 'socketkit';
import {
  BROKER_TOPICS,
  brokerHelpTexts,
  jetStreamTarget,
  noJetStreamFlags,
  parseBroker,
  timeoutAndLevel,
  type BrokerCommand,
  type BrokerTopic,
  type JetStreamTarget,
} from './broker-args.js';

/** A problem with the command line itself (exit code 2). */
export class UsageError extends Error {
  /** The command the problem belongs to (for the `--help` hint), if known. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** The commands of the `socketkit` binary. */
export const COMMANDS = ['serve', 'listen', 'send', 'request', 'ls', 'stats', 'top', 'broker', 'bench'] as const;
/** One of {@link COMMANDS}. */
export type CommandName = (typeof COMMANDS)[number];

const MESSAGE_TYPES = ['data', 'error', 'control'] as const;

/** Options every connecting command shares, after validation. */
export interface CommonArgs {
  event: string;
  /** A name from the transport registry (`transportNames()`). */
  transport: SocketType;
  /**
   * The server/client options the transport's own flags made (its `cli` declaration in the transport registry),
   * e.g. `{ socketDir, host, port, tls, allowInsecure }` for tcp, `{ servers: [...] }` for nats.
   */
  transportOptions: Record<string, unknown>;
  /** @deprecated Read `transportOptions.servers` (nats: server URL(s), comma-separated). */
  servers: string | undefined;
  /** @deprecated Read `transportOptions.socketDir`. */
  socketDir: string | undefined;
  /** @deprecated Read `transportOptions.host` (tcp). */
  host: string | undefined;
  /** @deprecated Read `transportOptions.port` (tcp). */
  port: number | undefined;
  /** @deprecated Read `transportOptions.tls` (tcp: TLS files, PEM paths; `requestCert` only for serve). */
  tls: { cert?: string; key?: string; ca?: string; requestCert?: boolean } | undefined;
  /** @deprecated Read `transportOptions.allowInsecure` (serve over tcp: a non-loopback host without token or TLS). */
  allowInsecure: boolean;
  /** Seconds, when given. */
  timeout: number | undefined;
  logLevel: LogLevel | undefined;
  handshake: boolean;
  /** File whose first line is the shared token (never on the command line, where `ps` shows it). */
  tokenFile: string | undefined;
}

/** A parsed command line. */
export type ParsedCommand =
  | { command: 'help'; topic: HelpTopic | undefined }
  | { command: 'version' }
  | ({
      command: 'serve';
      echo: boolean;
      /** Loopback HTTP port for metrics (requires `metricsTokenFile`). */
      metricsPort: number | undefined;
      /** File whose first line is the bearer token metrics requests must carry. */
      metricsTokenFile: string | undefined;
      /** Unix socket (created 0600) to serve metrics on over HTTP. */
      metricsSocket: string | undefined;
    } & CommonArgs)
  | ({
      command: 'listen';
      type: (typeof MESSAGE_TYPES)[number] | undefined;
      count: number | undefined;
      reconnect: boolean;
    } & CommonArgs)
  | ({ command: 'send'; data: Record<string, unknown> | undefined } & CommonArgs)
  | ({ command: 'request'; data: Record<string, unknown> } & CommonArgs)
  | { command: 'ls'; socketDir: string | undefined; json: boolean; clean: boolean; tokenFile: string | undefined }
  | ({
      command: 'stats';
      json: boolean;
      watch: boolean;
      count: number | undefined;
      intervalMs: number;
      jetstream?: undefined;
    } & CommonArgs)
  | {
      /** `socketkit stats <namespace> --transport jetstream`: the figures of a JetStream namespace. */
      command: 'stats';
      json: boolean;
      watch: boolean;
      count: number | undefined;
      intervalMs: number;
      jetstream: JetStreamTarget;
      timeout: number | undefined;
      logLevel: LogLevel | undefined;
    }
  | {
      command: 'top';
      socketDir: string | undefined;
      count: number | undefined;
      intervalMs: number;
      tokenFile: string | undefined;
      /** `--jetstream URLS`: also a row per JetStream namespace on those servers. */
      jetstream: JetStreamTarget | undefined;
    }
  | { command: 'bench'; script: string | undefined; rest: string[] }
  | BrokerCommand;

/** What `--help` can be asked about: a command, or a broker subcommand (`broker serve`, ...). */
export type HelpTopic = CommandName | BrokerTopic;

const { defaultTimeoutMs } = DEFAULT_CONFIG;
/** The default of --timeout, as the help states it. */
const TIMEOUT_DEFAULT = `(default $SOCKET_DEFAULT_TIMEOUT or ${defaultTimeoutMs / 1000})`;

/** A transport flag of one command, with the transports that declare it (registry order). */
interface FlagEntry {
  flag: TransportCliFlag;
  transports: string[];
}

export function isTransportCommand(command: CommandName): command is TransportCliCommand {
  return (TRANSPORT_CLI_COMMANDS as readonly string[]).includes(command);
}

function appliesTo(flag: TransportCliFlag, command: TransportCliCommand): boolean {
  return (flag.commands ?? TRANSPORT_CLI_COMMANDS).includes(command);
}

/**
 * The flags the registered transports declare for `command`, by name, in registry order (the first declaration
 * of a shared name gives its help). Read when asked for: a transport registered later has its flags here.
 */
export function transportFlags(command: TransportCliCommand): Map<string, FlagEntry> {
  const flags = new Map<string, FlagEntry>();
  for (const name of transportNames()) {
    for (const flag of transportCli(name)?.flags ?? []) {
      if (!appliesTo(flag, command)) continue;
      const entry = flags.get(flag.name);
      if (entry === undefined) flags.set(flag.name, { flag, transports: [name] });
      else entry.transports.push(name);
    }
  }
  return flags;
}

/** `a`, `a and b`, `a, b and c` (`word` instead of "and" when given). */
function listed(items: readonly string[], word = 'and'): string {
  return items.length < 2 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} ${word} ${items.at(-1) as string}`;
}

/** One option of a help text: the label, then the help (its `\n`-separated lines aligned under each other). */
export function optionLine(label: string, help: string): string {
  const [first, ...more] = help.split('\n');
  const head = label.length < 22 ? label.padEnd(22) : `${label}  `;
  return [`  ${head}${first}`, ...more.map((line) => `${' '.repeat(24)}${line}`)].join('\n');
}

/** Help lines of the transport flags of `command`: the common ones (no `commands`), or those of the command itself. */
export function transportFlagLines(command: TransportCliCommand, common: boolean): string[] {
  return [...transportFlags(command).values()]
    .filter(({ flag }) => (flag.commands === undefined) === common)
    .map(({ flag, transports }) =>
      optionLine(
        flag.type === 'string' ? `--${flag.name} ${flag.value ?? 'VALUE'}` : `--${flag.name}`,
        transports.length === 1 ? `${transports[0]}: ${flag.help}` : flag.help,
      ),
    );
}

/** The command's own transport flags as help lines, each after a newline ('' when none). */
const ownFlagLines = (command: TransportCliCommand): string =>
  transportFlagLines(command, false)
    .map((l) => `\n${l}`)
    .join('');

/** The transports `socketkit stats` reads (their `cli.stats`). */
const statsTransports = (): string[] => transportNames().filter((name) => transportCli(name)?.stats === true);

/** `--socket-dir, --host, --port, --tls-*`: the stats flags of those transports, a shared prefix shown once. */
function statsFlagList(): string {
  const stats = new Set(statsTransports());
  const names: string[] = [];
  for (const { flag, transports } of transportFlags('stats').values()) {
    if (transports.some((t) => stats.has(t))) names.push(flag.name);
  }
  const prefix = (name: string): string => name.split('-')[0] as string;
  const shown: string[] = [];
  for (const [i, name] of names.entries()) {
    const shared = names.filter((n) => prefix(n) === prefix(name)).length > 1 && name.includes('-');
    if (!shared) shown.push(`--${name}`);
    else if (names.findIndex((n) => prefix(n) === prefix(name)) === i) shown.push(`--${prefix(name)}-*`);
  }
  return shown.join(', ');
}

/** The usage line of `socketkit stats`: the transports it reads, then its options. */
function statsUsage(): string {
  const options = '[--socket-dir DIR] [--token-file FILE] [--json] [--watch] [--interval MS] [--count N]';
  return `usage: socketkit stats <event> [--transport ${statsTransports().join('|')}] ${options}`;
}

/** The CLI's own manifest: which transport packages it installs only on request (optional peers). */
const manifest = createRequire(import.meta.url)('../package.json') as {
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
};

/** `; nats needs npm install @socketkit/nats` for each built-in transport whose package is an optional peer. */
function installHints(): string {
  const optional = manifest.peerDependenciesMeta ?? {};
  return transportNames()
    .map((name) => [name, (TRANSPORT_PACKAGES as Readonly<Record<string, string>>)[name]] as const)
    .filter(([, pkg]) => pkg !== undefined && optional[pkg]?.optional === true)
    .map(([name, pkg]) => `; ${name} needs npm install ${pkg}`)
    .join('');
}

export const TOKEN_FILE_HELP = 'shared token (16+ bytes, first line of FILE); proven by challenge-response, never sent';

// Built when asked for: the transports are those registered at that moment.
export const commonHelp = (): string => `common options:
  --transport ${transportNames().join('|')}  transport (default unix${installHints()})
${transportFlagLines('listen', true)
  .map((l) => `${l}\n`)
  .join('')}${optionLine('--token-file FILE', TOKEN_FILE_HELP)}
  --timeout SECONDS     connect and reply timeout, up to ${MAX_TIMEOUT_SECONDS} ${TIMEOUT_DEFAULT}
  --log-level LEVEL     library log level on stderr: ${LOG_LEVELS.join('|')} (default warn)
  -h, --help            show this help

configuration: the CLI reads ./.env when present (SOCKET_ENV_FILE names another
file; the library itself reads none unless asked), SOCKET_SETTINGS_FILE names a
TOML settings file shared with the Python module; precedence: defaults <
settings file < .env < environment < command-line options. The .env file,
the settings file and --token-file are read only if they are yours (or root's)
and neither group nor others can write them; otherwise the command refuses
with INVALID_CONFIG.`;

const OUTPUT_HELP = `Messages are printed one per line as JSON in the wire shape, with snake_case keys:
  {"event_name":"jobs","timestamp_ms":1795000000000,"timestamp_iso":"...","message_type":"data","data":{...}}
(plus "id" on requests and "reply_to" on replies).`;

function helpTexts(): Record<HelpTopic | 'main', string> {
  return {
    ...brokerHelpTexts(),
    main: `socketkit - messages between processes over Unix domain sockets, TCP or NATS

usage: socketkit <command> [options]

commands:
  serve <event>     run a server: broadcast each JSON line of stdin, print what clients send
  listen <event>    connect and print every message as one JSON line
  send <event>      send --data '<json>', or each JSON line of stdin
  request <event>   send one request and print the reply
  ls                list the events in the socket directory: live, stale, insecure; clients, queue, rates
  stats <event>     print one server's statistics (--json, --watch)
  top               a live table of every event in the socket directory
  broker <sub>      a task broker: serve, tasks, requeue, purge (socketkit broker --help)
  bench             run the benchmark suite's quick scenarios (repository checkout)

Run "socketkit <command> --help" for the options of a command.

${commonHelp()}

exit codes: 0 ok, 1 runtime error (stderr: "error <CODE>: ..."), 2 usage error`,

    serve: `usage: socketkit serve <event> [options]

Starts a server for <event>. Each line read from stdin must be a JSON object;
it is broadcast to every connected client (queued for the next client while
none is connected). Messages clients send are printed to stdout as JSON lines.
Connects and disconnects are logged to stderr. Runs until SIGINT or SIGTERM,
then stops cleanly (the unix socket file is removed).

When ready it prints "listening on <address> ..." to stderr; with tcp the
line names the port.

options:
  --echo                answer every request with {"echo": <request data>}
  --metrics-port N      serve the server's stats in the Prometheus text format on
                        http://127.0.0.1:N/metrics (0 picks a free port; it is printed);
                        every local user can reach a loopback port, so it needs
                        --metrics-token-file
  --metrics-token-file FILE  bearer token (16+ bytes, first line of FILE) every metrics
                        request must carry (Prometheus: authorization: credentials_file)
  --metrics-socket PATH serve the same over HTTP on a unix socket created with mode 0600
                        (only its owner can scrape it; no token needed)${ownFlagLines('serve')}

${commonHelp()}

${OUTPUT_HELP}`,

    listen: `usage: socketkit listen <event> [options]

Connects to the server for <event> and prints every message it sends to
stdout, one JSON line each. Ends on SIGINT/SIGTERM, after --count messages,
or when the server closes the connection (exit 0; exit 1 if --count was not
reached).

options:
  --type data|error|control  print only messages of this type
  --count N                  exit 0 after N (printed) messages
  --reconnect                wait for a server that is not there yet and keep listening across
                             server restarts, never giving up (--timeout bounds the first wait)
  --no-handshake             do not announce with hello (servers without the handshake)${ownFlagLines('listen')}

${commonHelp()}

${OUTPUT_HELP}`,

    send: `usage: socketkit send <event> [--data '<json>'] [options]

Sends one message with --data, or, without it, one message per JSON line of
stdin, to the server for <event>. Each must be a JSON object. Exits once
everything was written.

options:
  --data JSON           the message data, a JSON object, e.g. '{"n": 1}'
  --no-handshake        do not announce with hello (servers without the handshake)${ownFlagLines('send')}

${commonHelp()}`,

    request: `usage: socketkit request <event> [--data '<json>'] [options]

Sends one request to the server for <event> and prints the reply as one JSON
line. An ERROR reply or no reply within --timeout exits 1.

options:
  --data JSON           the request data, a JSON object (default {})
  --no-handshake        do not announce with hello (servers without the handshake)${ownFlagLines('request')}

${commonHelp()}

${OUTPUT_HELP}`,

    stats: `${statsUsage()}

Asks the server of <event> for its statistics as a monitor (a peer that
never takes a client slot or the queue): clients with their traffic and
pending bytes, the queue, totals and rates over the last seconds, refusals by
code, uptime. The server must expose stats (exposeStats: default on for a
unix socket of mode 0600, and over tcp when the server has a token); exits 1
with STATS_DISABLED otherwise. A server with a token answers only a monitor
that proves it (--token-file, by challenge-response as a client does): else
UNAUTHORIZED.

options:
  --json                one JSON object per sample instead of text
  --watch               refresh every --interval ms until SIGINT (or --count samples)
  --interval MS         refresh interval for --watch (default 1000)
  --count N             stop after N samples${ownFlagLines('stats')}
  (--transport ${statsTransports().join('|')}, ${statsFlagList()}, --token-file and
  --timeout as below; the default --timeout here is 2 s)

JetStream backend of @socketkit/broker (needs that package beside the CLI):
  socketkit stats <namespace> --transport jetstream --servers URLS
prints the namespace's task stream (messages, bytes, replicas, leader), its
figures (pending, ack pending = in flight, redelivered, dead letters, waiting
pulls) and one line per consumer; NATS credentials: --user NAME with
--password-file FILE, or --token-file FILE (the NATS token); default --timeout 5 s.

${commonHelp()}`,

    top: `usage: socketkit top [--socket-dir DIR] [--token-file FILE] [--jetstream URLS] [--interval MS] [--count N]

A live table of every event in the socket directory (unix sockets and tcp
address files): clients, queue, rates in and out, pending bytes and drops.
Refreshes in place in a terminal; when stdout is not a terminal it prints
one block of plain lines per refresh.

options:
  --socket-dir DIR      the socket directory (default $SOCKET_DIR or /tmp/sockets)
  --token-file FILE     the token of servers that have one (first line of FILE)
  --jetstream URLS      also a row per @socketkit/broker JetStream namespace on these NATS servers
                        (jetstream:<ns>; CLIENTS: waiting pulls, QUEUE: stored tasks, TASKS: pending/ack pending/dead)
  --user NAME           with --password-file FILE: the NATS user of --jetstream
  --interval MS         refresh interval (default 1000)
  --count N             stop after N refreshes (default: until SIGINT)
  -h, --help            show this help`,

    ls: `usage: socketkit ls [--socket-dir DIR] [--token-file FILE] [--json] [--clean]

Lists every event in the socket directory (default $SOCKET_DIR or
/tmp/sockets): each *.sock file and tcp address file with its state, owner
and mode, and for a live server its clients, queue length and messages in
and out per second, read as a monitor. A server that does not expose stats
shows "stats off" there; a token server without --token-file "token
needed". A live server answers a connect (the probe closes at once and is
never counted as a client); a stale socket is a file nobody listens on; a
path that is not a socket is shown and never touched; "insecure" marks a
file writable by group or others, or owned by another user.

options:
  --socket-dir DIR      the directory to list
  --token-file FILE     the token of servers that have one (first line of FILE)
  --json                one JSON array instead of the table (with "stats" or "statsUnavailable")
  --clean               remove stale sockets (only those; says what it removed)
  -h, --help            show this help`,

    bench: `usage: socketkit bench [--script PATH] [-- extra arguments]

Runs the benchmark suite's quick scenarios: node bench/dist/run.js --quick
from the socketkit repository (build it first with "pnpm build"). Extra
arguments after -- are passed on.

options:
  --script PATH         the benchmark runner to use instead of bench/dist/run.js
  -h, --help            show this help`,
  };
}

/**
 * Help text of each command and of the binary itself (built when read: `--transport` lists the transports registered
 * then).
 */
export const HELP: Readonly<Record<HelpTopic | 'main', string>> = Object.defineProperties(
  {} as Record<HelpTopic | 'main', string>,
  Object.fromEntries(
    ['main', ...COMMANDS, ...BROKER_TOPICS].map((k) => [
      k,
      { enumerable: true, get: () => helpTexts()[k as HelpTopic | 'main'] },
    ]),
  ),
);

// The transports' own flags (--socket-dir, --port, --servers, ...) are added by specOf() from the registry.
const common = {
  transport: { type: 'string' },
  timeout: { type: 'string' },
  'log-level': { type: 'string' },
  'token-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
const handshake = { 'no-handshake': { type: 'boolean' } } as const;

const SPECS = {
  serve: {
    ...common,
    echo: { type: 'boolean' },
    'metrics-port': { type: 'string' },
    'metrics-token-file': { type: 'string' },
    'metrics-socket': { type: 'string' },
  },
  listen: {
    ...common,
    ...handshake,
    type: { type: 'string' },
    count: { type: 'string' },
    reconnect: { type: 'boolean' },
  },
  send: { ...common, ...handshake, data: { type: 'string' } },
  request: { ...common, ...handshake, data: { type: 'string' } },
  stats: {
    ...common,
    user: { type: 'string' },
    'password-file': { type: 'string' },
    json: { type: 'boolean' },
    watch: { type: 'boolean' },
    interval: { type: 'string' },
    count: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  top: {
    'socket-dir': { type: 'string' },
    'token-file': { type: 'string' },
    jetstream: { type: 'string' },
    user: { type: 'string' },
    'password-file': { type: 'string' },
    interval: { type: 'string' },
    count: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  ls: {
    'socket-dir': { type: 'string' },
    'token-file': { type: 'string' },
    json: { type: 'boolean' },
    clean: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
  bench: { script: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  broker: {},
} as const;

type Spec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** `parseArgs` in strict mode; its error becomes a {@link UsageError} of `command` (without node's positional hint). */
export function parseStrict(
  args: readonly string[],
  options: NonNullable<Parameters<typeof parseArgs>[0]>['options'],
  command: string,
): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: true }) as {
      values: Values;
      positionals: string[];
    };
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''), command);
  }
}

/** The metrics flags of a serving command (`serve`, `broker serve`). */
export interface MetricsArgs {
  metricsPort: number | undefined;
  metricsTokenFile: string | undefined;
  metricsSocket: string | undefined;
}

/**
 * Reads `--metrics-port`, `--metrics-token-file` and `--metrics-socket` of `where` (`serve`, `broker serve`): a port
 * (loopback HTTP, reachable by every local user) needs a token file; a token file needs a port or a socket.
 */
export function metricsArgs(values: Values, where: string): MetricsArgs {
  const metricsPort =
    values['metrics-port'] === undefined
      ? undefined
      : integer(values['metrics-port'] as string, '--metrics-port', where, 0, 65535);
  const metricsTokenFile = values['metrics-token-file'] as string | undefined;
  const metricsSocket = values['metrics-socket'] as string | undefined;
  if (metricsSocket !== undefined && metricsSocket.trim() === '')
    throw new UsageError('--metrics-socket must not be empty', where);
  if (metricsTokenFile !== undefined && metricsPort === undefined && metricsSocket === undefined)
    throw new UsageError('--metrics-token-file applies to --metrics-port (or --metrics-socket)', where);
  if (metricsPort !== undefined && metricsTokenFile === undefined)
    throw new UsageError(
      '--metrics-port serves the stats on loopback HTTP, which every local user can reach (the 0600 socket ' +
        'refuses them): ' +
        'add --metrics-token-file FILE (a bearer token of 16+ bytes; Prometheus: authorization: { ' +
        'credentials_file: FILE }), ' +
        'or serve them on a unix socket of mode 0600 with --metrics-socket PATH',
      where,
    );
  return { metricsPort, metricsTokenFile, metricsSocket };
}

/**
 * The parser options of `command`: its own, plus every flag a registered transport declares for it (which
 * transport a flag applies to is checked after parsing, so `--help` works with any of them).
 * @throws Error when a transport declares a flag the command itself has (a defect of that transport's declaration).
 */
function specOf(command: CommandName): Spec {
  const spec: Spec = { ...SPECS[command] };
  if (!isTransportCommand(command)) return spec;
  for (const [name, { flag, transports }] of transportFlags(command)) {
    if (Object.hasOwn(SPECS[command], name)) {
      const clash = `an option of socketkit ${command} itself: rename its flag`;
      throw new Error(`transport "${transports[0]}" declares --${name}, ${clash}`);
    }
    spec[name] = { type: flag.type };
  }
  return spec;
}

function isCommand(name: string | undefined): name is CommandName {
  return (COMMANDS as readonly string[]).includes(name ?? '');
}

export function integer(value: string, flag: string, command: string, min: number, max: number): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${flag} must be an integer ${min}-${max}, got ${JSON.stringify(value)}`, command);
  return n;
}

function jsonObject(text: string, command: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UsageError(
      `--data is not valid JSON (${(err as Error).message}): quote it for the shell, e.g. --data '{"n": 1}'`,
      command,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UsageError(`--data must be a JSON object, e.g. --data '{"value": ${text}}'`, command);
  }
  return value as Record<string, unknown>;
}

export type Values = Record<string, string | boolean | undefined>;

/**
 * The options the chosen transport's flags make: a flag of another transport is refused naming the transports
 * it applies to; each flag's `option`/`parse`, then the transport's `options` rules, give the options.
 * @throws UsageError with the message of the transport's `INVALID_CONFIG` error.
 */
export function transportArgs(
  command: TransportCliCommand,
  transport: string,
  values: Values,
): Record<string, unknown> {
  for (const [name, { flag, transports }] of transportFlags(command)) {
    if (values[name] === undefined || transports.includes(transport)) continue;
    const label = flag.label ?? `--${name}`;
    const verb = label.includes(' and ') ? 'apply' : 'applies';
    throw new UsageError(`${label} ${verb} to --transport ${listed(transports)}`, command);
  }
  const cli = transportCli(transport);
  const given: Values = {};
  let options: Record<string, unknown> = {};
  try {
    for (const flag of cli?.flags ?? []) {
      if (!appliesTo(flag, command)) continue;
      const value = values[flag.name];
      given[flag.name] = value;
      if (value === undefined || flag.option === undefined) continue;
      options[flag.option] = flag.parse === undefined ? value : flag.parse(value, command);
    }
    if (cli?.options !== undefined) options = cli.options(given, options, command);
  } catch (err) {
    const code = (err as { code?: unknown } | undefined)?.code;
    if (code === 'INVALID_CONFIG') throw new UsageError((err as Error).message, command);
    throw err;
  }
  return options;
}

function commonArgs(command: TransportCliCommand, values: Values, positionals: string[]): CommonArgs {
  if (positionals.length === 0) throw new UsageError(`missing the event name: socketkit ${command} <event>`, command);
  if (positionals.length > 1)
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}: give one event name`, command);
  const event = positionals[0] as string;
  if (!isValidEventName(event))
    throw new UsageError(
      `invalid event name ${JSON.stringify(event)}: use 1-64 characters from a-z, A-Z, 0-9, "_" and "-"`,
      command,
    );

  const transport = (values.transport as string | undefined) ?? 'unix';
  // The transport registry is the one list of transports.
  if (!isSocketType(transport)) {
    const names = transportNames();
    throw new UsageError(
      `--transport must be ${names.slice(0, -1).join(', ')} or ${names.at(-1) as string}, got ` +
        `${JSON.stringify(transport)}`,
      command,
    );
  }
  const transportOptions = transportArgs(command, transport, values);
  const tokenFile = values['token-file'] as string | undefined;

  const timeoutText = values.timeout as string | undefined;
  let timeout: number | undefined;
  if (timeoutText !== undefined) {
    timeout = /^\d+(\.\d+)?$/.test(timeoutText.trim()) ? Number(timeoutText) : Number.NaN;
    if (!(timeout >= 0.001 && timeout <= MAX_TIMEOUT_SECONDS))
      throw new UsageError(
        `--timeout must be a number of seconds from 0.001 to ${MAX_TIMEOUT_SECONDS}, got ` +
          `${JSON.stringify(timeoutText)}`,
        command,
      );
  }
  const level = values['log-level'] as string | undefined;
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`, command);
  }
  const t = transportOptions as Partial<Pick<CommonArgs, 'socketDir' | 'host' | 'port' | 'tls'>> & {
    servers?: string | string[];
    allowInsecure?: boolean;
  };
  return {
    event,
    transport,
    transportOptions,
    // The fields CommonArgs had before the transports declared their flags, kept for programs that read them.
    servers: Array.isArray(t.servers) ? t.servers.join(',') : t.servers,
    socketDir: t.socketDir,
    host: t.host,
    port: t.port,
    tls: t.tls,
    allowInsecure: t.allowInsecure === true,
    timeout,
    logLevel: level as LogLevel | undefined,
    handshake: values['no-handshake'] !== true,
    tokenFile,
  };
}

/**
 * Parses `argv` (without `node` and the script).
 * @throws UsageError for anything the user must fix on the command line.
 */
export function parseCommand(argv: readonly string[]): ParsedCommand {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help') return { command: 'help', topic: undefined };
  if (first === 'help') {
    const topic = rest[0] === 'broker' && rest[1] !== undefined ? `broker ${rest[1]}` : rest[0];
    if (topic !== undefined && !isCommand(topic) && !(BROKER_TOPICS as readonly string[]).includes(topic))
      throw new UsageError(`unknown command ${JSON.stringify(topic)}: use one of ${COMMANDS.join(', ')}`);
    return { command: 'help', topic: topic as HelpTopic | undefined };
  }
  if (first === '--version' || first === '-v') return { command: 'version' };
  if (!isCommand(first)) {
    throw new UsageError(
      first.startsWith('-')
        ? `unknown option ${first}: give a command first (${COMMANDS.join(', ')})`
        : `unknown command ${JSON.stringify(first)}: use one of ${COMMANDS.join(', ')}`,
    );
  }
  const command = first;
  if (command === 'broker') return parseBroker(rest);
  const { values, positionals } = parseStrict(rest, specOf(command), command);
  if (values.help === true) return { command: 'help', topic: command };

  switch (command) {
    case 'serve': {
      return {
        command,
        echo: values.echo === true,
        ...metricsArgs(values, command),
        ...commonArgs(command, values, positionals),
      };
    }
    case 'listen': {
      const type = values.type as string | undefined;
      if (type !== undefined && !(MESSAGE_TYPES as readonly string[]).includes(type)) {
        throw new UsageError(`--type must be data, error or control, got ${JSON.stringify(type)}`, command);
      }
      const countText = values.count as string | undefined;
      const count =
        countText === undefined ? undefined : integer(countText, '--count', command, 1, Number.MAX_SAFE_INTEGER);
      return {
        command,
        type: type as (typeof MESSAGE_TYPES)[number] | undefined,
        count,
        reconnect: values.reconnect === true,
        ...commonArgs(command, values, positionals),
      };
    }
    case 'send': {
      const data = values.data as string | undefined;
      return {
        command,
        data: data === undefined ? undefined : jsonObject(data, command),
        ...commonArgs(command, values, positionals),
      };
    }
    case 'request': {
      const data = values.data as string | undefined;
      return {
        command,
        data: data === undefined ? {} : jsonObject(data, command),
        ...commonArgs(command, values, positionals),
      };
    }
    case 'stats':
    case 'top': {
      const socketDir = values['socket-dir'] as string | undefined;
      if (socketDir !== undefined && socketDir.trim() === '')
        throw new UsageError('--socket-dir must not be empty', command);
      const countText = values.count as string | undefined;
      const count =
        countText === undefined ? undefined : integer(countText, '--count', command, 1, Number.MAX_SAFE_INTEGER);
      const intervalText = values.interval as string | undefined;
      const intervalMs =
        intervalText === undefined ? 1000 : integer(intervalText, '--interval', command, 50, 3_600_000);
      const tokenFile = values['token-file'] as string | undefined;
      if (command === 'top') {
        if (positionals.length > 0)
          throw new UsageError(
            `unexpected argument ${JSON.stringify(positionals[0])}: top takes no event name`,
            command,
          );
        if (values.jetstream === undefined) noJetStreamFlags(values, command);
        // --token-file is the monitors' socketkit token here: NATS credentials are --user and --password-file.
        const jetstream =
          values.jetstream === undefined
            ? undefined
            : jetStreamTarget({ ...values, 'token-file': undefined }, command, undefined, 'jetstream');
        return { command, socketDir, count, intervalMs, tokenFile, jetstream };
      }
      const json = values.json === true;
      const watch = values.watch === true;
      if (values.transport === 'jetstream') {
        if (positionals.length !== 1)
          throw new UsageError('give one namespace: socketkit stats <namespace> --transport jetstream', command);
        for (const name of transportFlags(command).keys())
          if (name !== 'servers' && values[name] !== undefined)
            throw new UsageError(
              `--${name} does not apply to --transport jetstream (it takes --servers URLS)`,
              command,
            );
        const jetstream = jetStreamTarget(values, command, positionals[0]);
        return { command, json, watch, count, intervalMs, jetstream, ...timeoutAndLevel(values, command) };
      }
      noJetStreamFlags(values, command);
      if (positionals.length !== 1) throw new UsageError('give one event name: socketkit stats <event>', command);
      const common = commonArgs(command, values, positionals);
      const readable = statsTransports();
      if (!readable.includes(common.transport)) {
        throw new UsageError(`stats reads ${listed(readable)} servers: --transport ${listed(readable, 'or')}`, command);
      }
      return { command, json, watch, count, intervalMs, ...common };
    }
    case 'ls': {
      if (positionals.length > 0)
        throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}: ls takes no event name`, command);
      const socketDir = values['socket-dir'] as string | undefined;
      if (socketDir !== undefined && socketDir.trim() === '')
        throw new UsageError('--socket-dir must not be empty', command);
      return {
        command,
        socketDir,
        json: values.json === true,
        clean: values.clean === true,
        tokenFile: values['token-file'] as string | undefined,
      };
    }
    case 'bench':
      return { command, script: values.script as string | undefined, rest: positionals };
  }
}

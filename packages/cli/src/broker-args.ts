import { LOG_LEVELS, MAX_TIMEOUT_SECONDS, isSocketType, isValidEventName, transportNames } from 'socketkit';
import type { LogLevel, SocketType, TransportCliCommand } from 'socketkit';
import {
  TOKEN_FILE_HELP,
  UsageError,
  integer,
  metricsArgs,
  optionLine,
  parseStrict,
  transportArgs,
  transportFlagLines,
  transportFlags,
  type Values,
} from './args.js';

/** The broker subcommands. */
export const BROKER_SUBCOMMANDS = ['serve', 'tasks', 'requeue', 'purge'] as const;
/** One of {@link BROKER_SUBCOMMANDS}. */
export type BrokerSubcommand = (typeof BROKER_SUBCOMMANDS)[number];
/** Help topics of the broker: `broker` and `broker <sub>`. */
export const BROKER_TOPICS = ['broker serve', 'broker tasks', 'broker requeue', 'broker purge'] as const;
/** One of {@link BROKER_TOPICS}. */
export type BrokerTopic = (typeof BROKER_TOPICS)[number];

/** Task states `broker tasks --state` lists. */
export const TASK_STATES = ['pending', 'inflight', 'dead'] as const;

/**
 * Where a JetStream backend is (`--transport jetstream`): its servers, the namespace, and the NATS credentials (a
 * user with `--password-file`, or a token with `--token-file`).
 */
export interface JetStreamTarget {
  servers: string[];
  /** The namespace (`--name`, default `socketkit`, as `connect({ transport: 'jetstream', name })`). */
  name: string;
  user: string | undefined;
  passwordFile: string | undefined;
  tokenFile: string | undefined;
}

/** The flags of a JetStream target (`--servers` is also the nats transport's). */
export const JETSTREAM_FLAGS = {
  servers: { type: 'string' },
  name: { type: 'string' },
  user: { type: 'string' },
  'password-file': { type: 'string' },
} as const;

const NAMESPACE = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The JetStream target of a command line: `--servers` (the flag `serversFlag`; default $SOCKET_NATS_SERVERS or
 * nats://127.0.0.1:4222), the namespace `name` (default `socketkit`), the credentials.
 * @throws UsageError for a bad namespace or half a user/password pair.
 */
export function jetStreamTarget(
  values: Values,
  where: string,
  name: string | undefined,
  serversFlag = 'servers',
): JetStreamTarget {
  const serversText = (values[serversFlag] as string | undefined) ?? process.env.SOCKET_NATS_SERVERS;
  const servers = (serversText ?? 'nats://127.0.0.1:4222')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  if (servers.length === 0) throw new UsageError(`--${serversFlag} needs at least one NATS server URL`, where);
  const ns = name ?? 'socketkit';
  if (!NAMESPACE.test(ns))
    throw new UsageError(
      `invalid namespace ${JSON.stringify(ns)}: use 1-64 characters from a-z, A-Z, 0-9, "_" and "-" ` +
        '(the name communicators connect with)',
      where,
    );
  const user = values.user as string | undefined;
  const passwordFile = values['password-file'] as string | undefined;
  const tokenFile = values['token-file'] as string | undefined;
  if ((user === undefined) !== (passwordFile === undefined))
    throw new UsageError(
      '--user and --password-file go together (the NATS user and the file whose first line is its password)',
      where,
    );
  if (user !== undefined && tokenFile !== undefined)
    throw new UsageError('give NATS credentials once: --user with --password-file, or --token-file', where);
  return { servers, name: ns, user, passwordFile, tokenFile };
}

/** Refuses the JetStream flags on a socket transport (they would be silently ignored). */
export function noJetStreamFlags(values: Values, where: string): void {
  for (const flag of ['name', 'user', 'password-file']) {
    if (values[flag] === undefined) continue;
    const why = flag === 'name' ? ' (the namespace; a socket broker is named by --event)' : '';
    throw new UsageError(`--${flag} applies to --transport jetstream${why}`, where);
  }
}

/** Options every broker subcommand shares, after validation. */
export interface BrokerCommonArgs {
  command: 'broker';
  /** The broker's event name (`--event`, default `broker`). */
  event: string;
  /** A socket transport, or `jetstream` (then {@link BrokerCommonArgs.jetstream} says where). */
  transport: SocketType | 'jetstream';
  /** The JetStream backend (`--transport jetstream`); undefined for a socket broker. */
  jetstream: JetStreamTarget | undefined;
  /** What the transport's own flags made (serve: its server flags; the others: its client flags). */
  transportOptions: Record<string, unknown>;
  tokenFile: string | undefined;
  /** Seconds, when given. */
  timeout: number | undefined;
  logLevel: LogLevel | undefined;
}

/** Limits `broker serve` passes to `startBroker` (each from its flag). */
export interface BrokerServeLimits {
  maxDeliveries?: number;
  maxPendingTasks?: number;
  maxConnections?: number;
  heartbeatIntervalMs?: number;
  ackTimeoutMs?: number;
  resultTtlMs?: number;
}

/** A parsed `socketkit broker ...` command line. */
export type BrokerCommand =
  | (BrokerCommonArgs & {
      sub: 'serve';
      /** Durable mode: the LMDB directory. */
      store: string | undefined;
      limits: BrokerServeLimits;
      metricsPort: number | undefined;
      metricsTokenFile: string | undefined;
      metricsSocket: string | undefined;
    })
  | (BrokerCommonArgs & {
      sub: 'tasks';
      state: (typeof TASK_STATES)[number] | undefined;
      json: boolean;
      limit: number;
    })
  | (BrokerCommonArgs & { sub: 'requeue'; taskId: string })
  | (BrokerCommonArgs & { sub: 'purge' });

/** `serve` reads its transport's server flags; the other subcommands connect, with its client flags. */
const flagsOf = (sub: BrokerSubcommand): TransportCliCommand => (sub === 'serve' ? 'serve' : 'request');

const COMMON = {
  ...JETSTREAM_FLAGS,
  event: { type: 'string' },
  transport: { type: 'string' },
  timeout: { type: 'string' },
  'log-level': { type: 'string' },
  'token-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SERVE_LIMITS = {
  'max-deliveries': ['maxDeliveries', 1, 1000],
  'max-pending-tasks': ['maxPendingTasks', 1, 100_000_000],
  'max-connections': ['maxConnections', 1, 1_000_000],
  'heartbeat-interval': ['heartbeatIntervalMs', 10, 3_600_000],
  'ack-timeout': ['ackTimeoutMs', 10, 86_400_000],
  'result-ttl': ['resultTtlMs', 0, 86_400_000],
} as const;

const SPECS = {
  serve: {
    ...COMMON,
    store: { type: 'string' },
    ...Object.fromEntries(Object.keys(SERVE_LIMITS).map((k) => [k, { type: 'string' }])),
    'metrics-port': { type: 'string' },
    'metrics-token-file': { type: 'string' },
    'metrics-socket': { type: 'string' },
  },
  tasks: { ...COMMON, state: { type: 'string' }, json: { type: 'boolean' }, limit: { type: 'string' } },
  requeue: { ...COMMON },
  purge: { ...COMMON, dead: { type: 'boolean' } },
} as const;

type Spec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

function specOf(sub: BrokerSubcommand): Spec {
  const spec: Spec = { ...(SPECS[sub] as Spec) };
  for (const [name] of transportFlags(flagsOf(sub))) if (!Object.hasOwn(spec, name)) spec[name] = { type: 'string' };
  // The transport's declared type wins (boolean flags such as --allow-insecure).
  for (const [name, { flag }] of transportFlags(flagsOf(sub))) spec[name] = { type: flag.type };
  return spec;
}

const isSub = (s: string | undefined): s is BrokerSubcommand =>
  (BROKER_SUBCOMMANDS as readonly string[]).includes(s ?? '');

/**
 * Parses `socketkit broker <sub> ...` (argv after `broker`).
 * @throws UsageError for anything the user must fix on the command line.
 */
export function parseBroker(
  argv: readonly string[],
): BrokerCommand | { command: 'help'; topic: 'broker' | BrokerTopic } {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help')
    return { command: 'help', topic: 'broker' };
  if (!isSub(sub))
    throw new UsageError(
      `unknown broker command ${JSON.stringify(sub)}: use one of ${BROKER_SUBCOMMANDS.join(', ')}`,
      'broker',
    );
  const where = `broker ${sub}`;
  const { values, positionals } = parseStrict(rest, specOf(sub), where);
  if (values.help === true) return { command: 'help', topic: where as BrokerTopic };
  const common = commonOf(sub, values, where);
  switch (sub) {
    case 'serve': {
      noPositionals(positionals, where);
      const store = values.store as string | undefined;
      if (store !== undefined && store.trim() === '') throw new UsageError('--store must not be empty', where);
      const limits: Record<string, number> = {};
      for (const [flag, [option, min, max]] of Object.entries(SERVE_LIMITS)) {
        const v = values[flag] as string | undefined;
        if (v !== undefined) limits[option] = integer(v, `--${flag}`, where, min, max);
      }
      return { ...common, sub, store, limits, ...metricsArgs(values, where) };
    }
    case 'tasks': {
      noPositionals(positionals, where);
      const state = values.state as string | undefined;
      if (state !== undefined && !(TASK_STATES as readonly string[]).includes(state))
        throw new UsageError(`--state must be ${TASK_STATES.join(', ')}, got ${JSON.stringify(state)}`, where);
      if (state === 'inflight' && common.jetstream !== undefined)
        throw new UsageError(
          'JetStream cannot list in-flight tasks one by one (their count is "ack pending" in socketkit stats ' +
            '<namespace> --transport jetstream): use --state pending or dead',
          where,
        );
      const limit = values.limit === undefined ? 1000 : integer(values.limit as string, '--limit', where, 1, 1000);
      return {
        ...common,
        sub,
        state: state as (typeof TASK_STATES)[number] | undefined,
        json: values.json === true,
        limit,
      };
    }
    case 'requeue': {
      if (positionals.length !== 1)
        throw new UsageError(
          'give one task id: socketkit broker requeue <taskId> (socketkit broker tasks --state dead lists them)',
          where,
        );
      const taskId = positionals[0] as string;
      if (taskId === '' || taskId.length > 200)
        throw new UsageError('the task id must have 1-200 characters (as socketkit broker tasks prints it)', where);
      return { ...common, sub, taskId };
    }
    case 'purge':
      noPositionals(positionals, where);
      if (values.dead !== true)
        throw new UsageError(
          'say what to purge: socketkit broker purge --dead (removes every dead-lettered task)',
          where,
        );
      return { ...common, sub };
  }
}

function noPositionals(positionals: string[], where: string): void {
  if (positionals.length > 0)
    throw new UsageError(
      `unexpected argument ${JSON.stringify(positionals[0])}: the broker's event name goes in --event NAME`,
      where,
    );
}

function commonOf(sub: BrokerSubcommand, values: Values, where: string): BrokerCommonArgs {
  if (values.transport === 'jetstream') return jetStreamCommonOf(sub, values, where);
  noJetStreamFlags(values, where);
  const event = (values.event as string | undefined) ?? 'broker';
  if (!isValidEventName(event))
    throw new UsageError(
      `invalid --event ${JSON.stringify(event)}: use 1-64 characters from a-z, A-Z, 0-9, "_" and "-"`,
      where,
    );
  const transport = (values.transport as string | undefined) ?? 'unix';
  if (!isSocketType(transport))
    throw new UsageError(
      `--transport must be one of ${transportNames().join(', ')}, got ${JSON.stringify(transport)}`,
      where,
    );
  let transportOptions: Record<string, unknown>;
  try {
    transportOptions = transportArgs(flagsOf(sub), transport, values);
  } catch (err) {
    // Named after the transport command whose flags these are: name the broker command instead.
    if (err instanceof UsageError) throw new UsageError(err.message, where);
    throw err;
  }
  return {
    command: 'broker',
    event,
    transport,
    jetstream: undefined,
    transportOptions,
    tokenFile: values['token-file'] as string | undefined,
    ...timeoutAndLevel(values, where),
  };
}

/** `--transport jetstream`: no broker process to serve; `--servers`, `--name` and the credentials say where. */
function jetStreamCommonOf(sub: BrokerSubcommand, values: Values, where: string): BrokerCommonArgs {
  if (sub === 'serve')
    throw new UsageError(
      'the JetStream backend has no broker process to serve: nats-server with JetStream (-js) is the broker, and ' +
        "communicators connect to it with connect({ transport: 'jetstream', servers })",
      where,
    );
  if (values.event !== undefined)
    throw new UsageError('--event names a socket broker: a JetStream namespace is --name NS', where);
  for (const [name] of transportFlags(flagsOf(sub)))
    if (name !== 'servers' && values[name] !== undefined)
      throw new UsageError(`--${name} does not apply to --transport jetstream (it takes --servers URLS)`, where);
  const jetstream = jetStreamTarget(values, where, values.name as string | undefined);
  return {
    command: 'broker',
    event: jetstream.name,
    transport: 'jetstream',
    jetstream,
    transportOptions: {},
    tokenFile: jetstream.tokenFile,
    ...timeoutAndLevel(values, where),
  };
}

/** `--timeout` (seconds) and `--log-level`. */
export function timeoutAndLevel(values: Values, where: string): Pick<BrokerCommonArgs, 'timeout' | 'logLevel'> {
  const timeoutText = values.timeout as string | undefined;
  let timeout: number | undefined;
  if (timeoutText !== undefined) {
    timeout = /^\d+(\.\d+)?$/.test(timeoutText.trim()) ? Number(timeoutText) : Number.NaN;
    if (!(timeout >= 0.001 && timeout <= MAX_TIMEOUT_SECONDS))
      throw new UsageError(
        `--timeout must be a number of seconds from 0.001 to ${MAX_TIMEOUT_SECONDS}, got ` +
          JSON.stringify(timeoutText),
        where,
      );
  }
  const level = values['log-level'] as string | undefined;
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level))
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`, where);
  return { timeout, logLevel: level as LogLevel | undefined };
}

/** The options every broker subcommand takes, with the transport flags of `flags` (server or client ones). */
function brokerCommonHelp(flags: TransportCliCommand): string {
  return `common options:
  --event NAME          the broker's event name (default broker: socket broker.sock)
  --transport ${transportNames().join('|')}${flags === 'serve' ? '' : '|jetstream'}  transport (default unix)
${
  flags === 'serve'
    ? ''
    : `  --name NS             jetstream: the namespace (default socketkit); with --servers URLS
  --user NAME           jetstream: the NATS user, with --password-file FILE (its password's file);
                        --token-file FILE is then the NATS token
`
}
${[...transportFlagLines(flags, true), ...transportFlagLines(flags, false)].map((l) => `${l}\n`).join('')}${optionLine(
  '--token-file FILE',
  TOKEN_FILE_HELP,
)}
  --timeout SECONDS     connect and reply timeout (default 5)
  --log-level LEVEL     library log level on stderr: ${LOG_LEVELS.join('|')} (default warn)
  -h, --help            show this help`;
}

const ADMIN_NOTE = `It connects to a running broker and asks it over the broker protocol (admin
messages). A broker answers them only from its operator: on unix when its
socket is private to its owner (mode 0600, the default), over tcp or nats
when it has a token (--token-file, the broker's token); else ADMIN_DISABLED.`;

/** Help texts of `broker` and each broker subcommand. */
export function brokerHelpTexts(): Record<'broker' | BrokerTopic, string> {
  return {
    broker: `usage: socketkit broker <serve|tasks|requeue|purge> [options]

A task broker (@socketkit/broker): tasks with at-least-once delivery and one
outcome each, RPC and broadcasts between processes.

commands:
  serve             run a broker until SIGINT/SIGTERM
  tasks             list the tasks of a running broker (--state pending|inflight|dead, --json)
  requeue <taskId>  put a dead (or in-flight) task back in the queue
  purge --dead      remove every dead-lettered task

Its figures (pending, in flight, dead, subscribers, tasks/s) are in
"socketkit stats broker", "socketkit top" and broker serve's --metrics-*.

The JetStream backend (connect({ transport: 'jetstream' })) has no broker
process: tasks, requeue and purge take --transport jetstream --servers URLS
--name NS (the namespace, default socketkit) and read its streams directly;
its figures are in "socketkit stats NS --transport jetstream --servers URLS"
and "socketkit top --jetstream URLS".
Run "socketkit broker <command> --help" for the options of a command.

exit codes: 0 ok, 1 runtime error (stderr: "error <CODE>: ..."), 2 usage error`,

    'broker serve': `usage: socketkit broker serve [--store PATH] [options]

Runs a broker for the event --event (default broker) until SIGINT or SIGTERM,
then stops cleanly (workers' leases end; the unix socket is removed). When
ready it prints "broker listening on <address> ..." to stderr, and whether
it is durable: with --store, tasks are kept in LMDB at PATH and survive a
restart; without it (memory mode) a restart loses every pending, in-flight
and dead task and every kept outcome. It needs the @socketkit/broker package
beside the CLI (npm install @socketkit/broker); the other broker commands do not.

options:
  --store PATH          durable mode: the LMDB directory (created if missing)
  --max-deliveries N    deliveries without an outcome before a task is dead-lettered (default 5)
  --max-pending-tasks N unfinished tasks accepted at most (default 100000)
  --max-connections N   most connections (default 1024)
  --heartbeat-interval MS  ping interval; a worker silent 3 intervals loses its leases (default 1000)
  --ack-timeout MS      a delivery without result or progress in MS is taken back (default: none)
  --result-ttl MS       how long outcomes are kept for submitters that reconnect (default 60000)
  --metrics-port N      serve the server's and the broker's figures in the Prometheus text format on
                        http://127.0.0.1:N/metrics (needs --metrics-token-file)
  --metrics-token-file FILE  bearer token (16+ bytes, first line of FILE) every metrics request must carry
  --metrics-socket PATH serve the same over HTTP on a unix socket created with mode 0600

${brokerCommonHelp('serve')}`,

    'broker tasks': `usage: socketkit broker tasks [--state pending|inflight|dead] [--json] [--limit N] [options]

Lists the unfinished and dead tasks of a running broker (or those in one
state): id, state, attempt, failures, bytes, age, worker, last error. At
most --limit (default and most 1000) tasks; the counts by state come first.

${ADMIN_NOTE}

options:
  --state STATE         pending, inflight or dead
  --json                one JSON object per task, one per line
  --limit N             at most N tasks (1-1000)

${brokerCommonHelp('request')}`,

    'broker requeue': `usage: socketkit broker requeue <taskId> [options]

Puts a task of a running broker back in the queue: a dead-lettered task (its
delivery count starts over; a submitter still waiting gets its new outcome)
or an in-flight one (its worker is told to cancel; its result will be
refused). Exits 1 with TASK_NOT_REQUEUED for an unknown, pending or finished task.

${ADMIN_NOTE}

${brokerCommonHelp('request')}`,

    'broker purge': `usage: socketkit broker purge --dead [options]

Removes every dead-lettered task of a running broker and prints how many.

${ADMIN_NOTE}

options:
  --dead                the dead-letter list (the one thing purge removes)

${brokerCommonHelp('request')}`,
  };
}

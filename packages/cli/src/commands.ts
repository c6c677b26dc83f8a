import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  ConnectionError,
  ErrorCode,
  MessageError,
  SocketError,
  ValidationError,
  createClient,
  createServer,
  isSocketMessage,
  loadConfig,
  readTrustedFile,
  type LogLevel,
  type SocketClient,
} from 'socketkit';
import type { CommonArgs, ParsedCommand } from './args.js';
import { errorLine, printMessage, status, stderrLogger } from './output.js';
import type { MetricsEndpoint } from './metrics-http.js';

type Args<C extends string> = Extract<ParsedCommand, { command: C }>;

/** Default log level of the CLI: quiet unless something is wrong. */
export const DEFAULT_CLI_LOG_LEVEL: LogLevel = 'warn';

export function transportOptions(
  a: Pick<CommonArgs, 'logLevel' | 'transportOptions' | 'tokenFile'>,
): Record<string, unknown> {
  const level = a.logLevel ?? DEFAULT_CLI_LOG_LEVEL;
  const o: Record<string, unknown> = { logger: stderrLogger(level), logLevel: level };
  const envFile = cliEnvFile();
  if (envFile !== undefined) o.envFile = envFile;
  // What the transport's own flags made (its `cli` declaration in the registry).
  Object.assign(o, a.transportOptions);
  if (a.tokenFile !== undefined) o.token = readToken(a.tokenFile);
  return o;
}

/**
 * The first line of a token file (the token never goes on the command line,
 * where `ps` shows it). Like `.env`, the file must be yours (or root's) and
 * not writable by group or others ({@link readTrustedFile}).
 * @throws ValidationError `INVALID_CONFIG` naming the file and what to do.
 */
export function readToken(path: string, flag = '--token-file'): string {
  return (readTrustedFile(resolve(path), 'token file', { namedBy: flag }).split(/\r?\n/)[0] ?? '').trim();
}

/** Fewest bytes of a metrics bearer token (as for the server's own token). */
export const MIN_METRICS_TOKEN_BYTES = 16;

/**
 * The bearer token of `--metrics-token-file` (its first line, read as
 * {@link readToken} reads a token file).
 * @throws ValidationError `INVALID_CONFIG` when the file is not trusted or the token is shorter than 16 bytes.
 */
export function metricsToken(path: string): string {
  const token = readToken(path, '--metrics-token-file');
  const n = Buffer.byteLength(token);
  if (n < MIN_METRICS_TOKEN_BYTES) {
    throw new ValidationError(
      ErrorCode.INVALID_CONFIG,
      `--metrics-token-file ${path}: the token has ${n} bytes, fewer than ${MIN_METRICS_TOKEN_BYTES} bytes: ` +
        `write a longer one, e.g. openssl rand -hex 32 > ${path}`,
      { details: { path, bytes: n } },
    );
  }
  return token;
}

/**
 * The CLI reads `./.env` when present (the library never does on its own);
 * SOCKET_ENV_FILE, when set, names the file instead and the library reads it.
 */
function cliEnvFile(): string | undefined {
  if ((process.env.SOCKET_ENV_FILE ?? '').trim() !== '') return undefined;
  return existsSync('.env') ? resolve('.env') : undefined;
}

/** --timeout (seconds) in ms, defaulting to the configured `defaultTimeoutMs` (SOCKET_DEFAULT_TIMEOUT). */
export function timeoutMs(a: Pick<CommonArgs, 'timeout'>): number {
  if (a.timeout !== undefined) return Math.round(a.timeout * 1000);
  const envFile = cliEnvFile();
  return loadConfig({}, envFile === undefined ? {} : { envFile }).defaultTimeoutMs;
}

/** Parses one JSON line of stdin into message data. */
function parseLine(line: string, lineNo: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new MessageError(
      ErrorCode.INVALID_MESSAGE,
      `stdin line ${lineNo} is not valid JSON (${(err as Error).message}): write one JSON object per line`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MessageError(
      ErrorCode.INVALID_MESSAGE,
      `stdin line ${lineNo} is not a JSON object: wrap other values, e.g. {"value": ${line.trim()}}`,
    );
  }
  return value as Record<string, unknown>;
}

/** Resolves with the first of SIGINT / SIGTERM (listeners removed afterwards). */
export function nextSignal(): { promise: Promise<NodeJS.Signals>; cancel(): void } {
  let handler: (s: NodeJS.Signals) => void = () => undefined;
  const promise = new Promise<NodeJS.Signals>((res) => {
    handler = (s) => {
      cancel();
      res(s);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
  const cancel = (): void => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
  return { promise, cancel };
}

const endOfStream = (err: unknown): boolean =>
  err instanceof ConnectionError && (err.code === ErrorCode.CONNECTION_LOST || err.code === ErrorCode.CLOSED);

/**
 * Prints errors the client reports while running, except the one that ends
 * the session (that one is returned by the command). Returns the set of
 * errors already shown, so the caller does not print one twice.
 */
export function showErrors(client: SocketClient, retried = false): Set<unknown> {
  const shown = new Set<unknown>();
  client.on('error', (err) => {
    if (endOfStream(err)) return;
    // Retried by connectOnce(); printed once if it is still the answer at the end.
    if (retried && isAdmissionFull(err)) return;
    shown.add(err);
    status(errorLine(err));
  });
  return shown;
}

const isAdmissionFull = (err: unknown): boolean => err instanceof SocketError && err.code === ErrorCode.ADMISSION_FULL;

/**
 * Attempts of a connect refused `ADMISSION_FULL` (retryable) by a command without `--reconnect`, 100 ms apart and more.
 */
export const ADMISSION_ATTEMPTS = 5;

/**
 * Connects `client` (built with `autoReconnect: false` and
 * `showErrors(client, true)`). `ADMISSION_FULL` is retryable (a server busy
 * admitting connections, or a hello that reached it after broadcasts did):
 * tried {@link ADMISSION_ATTEMPTS} times. An error its `error` listener
 * already printed (a refused token: reported as an event, and it rejects
 * the connect) ends the command with exit code 1 instead of being printed a
 * second time by `main`.
 * @returns 0 once connected, 1 when the error was already shown.
 */
export async function connectOnce(
  client: SocketClient,
  shown: Set<unknown>,
  options: Parameters<SocketClient['connect']>[0],
  stopped: () => boolean = () => false,
): Promise<0 | 1> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.connect(options);
      return 0;
    } catch (err) {
      if (isAdmissionFull(err) && attempt < ADMISSION_ATTEMPTS && !stopped()) {
        await sleep(100 * attempt);
        continue;
      }
      if (!shown.has(err)) throw err;
      await client.disconnect();
      return 1;
    }
  }
}

/** `socketkit serve <event>`. */
export async function serve(a: Args<'serve'>): Promise<number> {
  // Read before anything starts: a refused token file leaves nothing half-started.
  const metricsBearer = a.metricsTokenFile === undefined ? undefined : metricsToken(a.metricsTokenFile);
  const server = await createServer(a.transport, a.event, transportOptions(a));
  server.on('clientConnected', (id) =>
    status(`client ${id} connected (${server.getConnectedClients().length} connected)`),
  );
  server.on('clientDisconnected', (id, reason) => status(`client ${id} disconnected: ${reason}`));
  server.on('message', (m) => void printMessage(m));
  server.on('error', (err, clientId) =>
    status(`${errorLine(err)}${clientId === undefined ? '' : ` (client ${clientId})`}`),
  );
  server.on('queueOverflow', (dropped) =>
    status(`no client connected and the queue is full: ${dropped} message(s) dropped so far (oldest first)`),
  );
  if (a.echo) server.onRequest((data) => ({ echo: data }));

  const signal = nextSignal();
  try {
    await server.start();
  } catch (err) {
    signal.cancel();
    throw err;
  }
  const port = 'port' in server ? server.port : undefined;
  status(
    `listening on ${server.address} (event "${a.event}", ${a.transport}${port === undefined ? '' : ` port ${port}`})`,
  );
  const metrics: MetricsEndpoint[] = [];
  try {
    // node:http and the metrics endpoint load only for a server that serves metrics.
    const serveMetrics =
      a.metricsPort === undefined && a.metricsSocket === undefined
        ? undefined
        : (await import('./metrics-http.js')).serveMetrics;
    if (a.metricsPort !== undefined && serveMetrics !== undefined)
      metrics.push(await serveMetrics(server, { port: a.metricsPort }, metricsBearer));
    if (a.metricsSocket !== undefined && serveMetrics !== undefined)
      metrics.push(await serveMetrics(server, { path: resolve(a.metricsSocket) }, metricsBearer));
  } catch (err) {
    signal.cancel();
    await Promise.all(metrics.map((m) => m.close()));
    await server.stop();
    throw err;
  }
  for (const m of metrics)
    status(
      `metrics on ${m.url}` +
        (m.url.startsWith('unix:') ? ' (HTTP, GET /metrics; socket mode 0600)' : ' (bearer token required)'),
    );

  const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  let lineNo = 0;
  rl.on('line', (line) => {
    lineNo++;
    if (line.trim() === '') return;
    try {
      server.send(parseLine(line, lineNo));
    } catch (err) {
      status(`${errorLine(err)}; line skipped`);
    }
  });

  const received = await signal.promise;
  status(`${received}: stopping`);
  rl.close();
  process.stdin.destroy();
  await Promise.all(metrics.map((m) => m.close()));
  await server.stop();
  status('stopped');
  return 0;
}

/** `socketkit listen <event>`. */
export async function listen(a: Args<'listen'>): Promise<number> {
  const client = await createClient(a.transport, a.event, {
    ...transportOptions(a),
    autoReconnect: a.reconnect,
    handshake: a.handshake,
    // --reconnect: survive any outage (each loss and return is printed), never give up.
    ...(a.reconnect ? { reconnect: { maxRetries: Number.POSITIVE_INFINITY } } : {}),
  });
  const shown = showErrors(client, !a.reconnect);
  // Handle SIGINT/SIGTERM from the start: the ready line below may be acted on at once.
  const signal = nextSignal();
  let interrupted = false;
  void signal.promise.then(() => {
    interrupted = true;
    return client.disconnect();
  });
  try {
    // "connected" means welcomed: a socketkit server answered the hello.
    // --reconnect also waits for a server that is not there yet: without --timeout, until SIGINT.
    const waiting = (): void => status(`waiting for the server at ${client.address} (event "${a.event}")`);
    if (a.reconnect) client.once('reconnecting', waiting);
    const options = a.reconnect
      ? {
          timeout: a.timeout === undefined ? Number.POSITIVE_INFINITY : timeoutMs(a),
          waitForWelcome: a.handshake,
          waitForServer: true,
        }
      : { timeout: timeoutMs(a), waitForWelcome: a.handshake };
    const connected = await connectOnce(client, shown, options, () => interrupted);
    client.off('reconnecting', waiting);
    if (connected !== 0) {
      signal.cancel();
      return interrupted ? 0 : 1;
    }
  } catch (err) {
    signal.cancel();
    if (interrupted) return 0;
    throw err;
  }
  status(`connected to ${client.address} (event "${a.event}")`);
  client.on('reconnecting', (attempt, delay) =>
    status(`connection lost: reconnecting in ${delay} ms (attempt ${attempt})`),
  );
  // The first welcome was before connect() resolved: the next one is a reconnection.
  client.on(a.handshake ? 'welcome' : 'connected', () => status(`reconnected to ${client.address}`));

  let printed = 0;
  try {
    for await (const m of client) {
      if (a.type !== undefined && m.messageType !== a.type) continue;
      await printMessage(m);
      printed++;
      if (a.count !== undefined && printed >= a.count) return 0;
    }
  } catch (err) {
    // A clean remote close either ends the iteration or throws CONNECTION_LOST / CLOSED.
    if (!endOfStream(err)) {
      if (!shown.has(err)) status(errorLine(err));
      return 1;
    }
  } finally {
    signal.cancel();
    await client.disconnect();
  }
  if (interrupted) return 0;
  if (a.count !== undefined) {
    status(
      `error ${ErrorCode.CONNECTION_LOST}: the server at ${client.address} closed the connection after ${printed} of ` +
        `${a.count} messages`,
    );
    return 1;
  }
  status('the server closed the connection');
  return 0;
}

/**
 * The client of `send` and `request`: no reconnect; with the handshake it connects as a sender (hello `role:
 * "sender"`), so it never takes the server's no-client queue nor broadcasts.
 */
function senderClient(a: Args<'send'> | Args<'request'>): ReturnType<typeof createClient> {
  return createClient(a.transport, a.event, {
    ...transportOptions(a),
    autoReconnect: false,
    handshake: a.handshake,
    ...(a.handshake ? { role: 'sender' } : {}),
  });
}

/** `socketkit send <event>`. */
export async function send(a: Args<'send'>): Promise<number> {
  const client = await senderClient(a);
  const shown = showErrors(client, true);
  if ((await connectOnce(client, shown, { timeout: timeoutMs(a), waitForWelcome: a.handshake })) !== 0) return 1;
  let sent = 0;
  try {
    if (a.data !== undefined) {
      await client.send(a.data);
      sent = 1;
    } else {
      let lineNo = 0;
      for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
        lineNo++;
        if (line.trim() === '') continue;
        await client.send(parseLine(line, lineNo));
        sent++;
      }
    }
  } finally {
    await client.disconnect();
  }
  status(`sent ${sent} message${sent === 1 ? '' : 's'} to ${client.address}`);
  return 0;
}

/** `socketkit request <event>`. */
export async function request(a: Args<'request'>): Promise<number> {
  const client = await senderClient(a);
  const shown = showErrors(client, true);
  const timeout = timeoutMs(a);
  if ((await connectOnce(client, shown, { timeout, waitForWelcome: a.handshake })) !== 0) return 1;
  try {
    const reply = await client.request(a.data, { timeout });
    if (isSocketMessage(reply)) await printMessage(reply);
  } finally {
    await client.disconnect();
  }
  return 0;
}

/** Where `socketkit bench` looks for the benchmark runner, in order. */
export function benchCandidates(script: string | undefined): string[] {
  if (script !== undefined) return [resolve(script)];
  return [fileURLToPath(new URL('../../../bench/dist/run.js', import.meta.url)), resolve('bench/dist/run.js')];
}

/**
 * True when this CLI runs from a socketkit repository checkout (where the
 * benchmark suite lives), not from an installed package.
 */
export function benchAvailable(): boolean {
  const manifest = fileURLToPath(new URL('../../../bench/package.json', import.meta.url));
  try {
    return (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === '@socketkit/bench';
  } catch {
    return false;
  }
}

/** `socketkit bench`: runs `node bench/dist/run.js --quick` and exits with its code. */
export async function bench(a: Args<'bench'>): Promise<number> {
  const candidates = benchCandidates(a.script);
  const script = candidates.find((p) => existsSync(p));
  if (script === undefined) {
    status(
      `error BENCH_NOT_FOUND: the benchmark runner is not there (looked for ${candidates.join(', ')}): ` +
        'socketkit bench runs the suite of a socketkit repository checkout; run "pnpm install && pnpm build" in it ' +
        'first, or pass --script PATH',
    );
    return 1;
  }
  const child = spawn(process.execPath, [script, '--quick', ...a.rest], { stdio: 'inherit' });
  const forward = (s: NodeJS.Signals): void => {
    child.kill(s);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    const [code] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
    return code ?? 1;
  } finally {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
}

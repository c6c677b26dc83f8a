import { describe, it, expect } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  loadConfig,
  parsePermissions,
  assertTimeoutMs,
  isValidTimeoutMs,
  CONFIG_KEYS,
  DEFAULT_CONFIG,
  type ConfigOverrides,
} from '../src/index.js';
import { at, configError, NON_DEFAULT, useTempDir } from './helpers.js';

const temp = useTempDir('config');
const tmp = (): string => temp.dir();

/** Writes a uniquely named .env file in the temp dir and returns its path. */
function writeEnvFile(lines: Record<string, string>): string {
  return temp.write(
    'test',
    'env',
    `${Object.entries(lines)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
}

const isolated = { env: {}, envFile: false } as const;

describe('defaults', () => {
  it('equal DEFAULT_CONFIG with an empty environment and no .env', () => {
    expect(loadConfig({}, isolated)).toEqual(DEFAULT_CONFIG);
    expect(loadConfig(undefined, isolated)).toEqual(DEFAULT_CONFIG);
  });

  it('are the design defaults', () => {
    expect(DEFAULT_CONFIG).toEqual({
      socketDir: '/tmp/sockets',
      defaultTimeoutMs: 5000,
      bufferSize: 4096,
      timezone: 'UTC',
      messageQueueSize: 100,
      blockingMode: false,
      allowClientSend: true,
      maxMessageSize: 1048576,
      logLevel: 'warn',
      unix: { maxConnections: 10, socketPermissions: '0600', autoRemoveSocket: true },
      tcp: { host: '127.0.0.1', portRangeStart: 9000, portRangeEnd: 9100, maxConnections: 10 },
    });
  });

  it('returns a fresh copy: changing it does not touch DEFAULT_CONFIG or later loads', () => {
    const a = loadConfig({}, isolated);
    a.tcp.host = 'example.org';
    a.bufferSize = 1;
    expect(DEFAULT_CONFIG.tcp.host).toBe('127.0.0.1');
    expect(loadConfig({}, isolated).bufferSize).toBe(4096);
    expect(Object.isFrozen(DEFAULT_CONFIG)).toBe(true);
    expect(Object.isFrozen(DEFAULT_CONFIG.tcp)).toBe(true);
  });
});

describe('precedence: defaults < settings file < .env < environment < overrides', () => {
  it('takes each key from the highest source that sets it', () => {
    const envFile = writeEnvFile({
      SOCKET_BUFFER_SIZE: '111', // .env only
      SOCKET_MESSAGE_QUEUE_SIZE: '222', // .env and environment
      SOCKET_TCP_HOST: 'dotenv.host', // .env, environment and override
    });
    const env = { SOCKET_MESSAGE_QUEUE_SIZE: '333', SOCKET_TCP_HOST: 'env.host', SOCKET_DEFAULT_TIMEOUT: '7' };
    const c = loadConfig({ tcp: { host: 'option.host' } }, { env, envFile });
    expect(c.bufferSize).toBe(111);
    expect(c.messageQueueSize).toBe(333);
    expect(c.tcp.host).toBe('option.host');
    expect(c.defaultTimeoutMs).toBe(7000); // SOCKET_DEFAULT_TIMEOUT is seconds, converted once
    expect(c.maxMessageSize).toBe(DEFAULT_CONFIG.maxMessageSize); // set nowhere
    expect(c.tcp.portRangeStart).toBe(9000);
  });

  it('an override beats a bad environment value (the lower source is not read)', () => {
    const c = loadConfig({ bufferSize: 5 }, { env: { SOCKET_BUFFER_SIZE: 'garbage' }, envFile: false });
    expect(c.bufferSize).toBe(5);
  });

  it('an override set to undefined falls through to the next source', () => {
    const c = loadConfig({ bufferSize: undefined }, { env: { SOCKET_BUFFER_SIZE: '12' }, envFile: false });
    expect(c.bufferSize).toBe(12);
  });

  it('reads process.env when no env is given', () => {
    const before = process.env.SOCKET_BUFFER_SIZE;
    process.env.SOCKET_BUFFER_SIZE = '2048';
    try {
      expect(loadConfig({}, { envFile: false }).bufferSize).toBe(2048);
    } finally {
      if (before === undefined) delete process.env.SOCKET_BUFFER_SIZE;
      else process.env.SOCKET_BUFFER_SIZE = before;
    }
  });

  it('never reads ./.env unless asked (issue 15): a stray SOCKET_LOG_LEVEL there changes nothing', () => {
    const cwd = process.cwd();
    const dir = mkdtempSync(path.join(tmp(), 'with-dotenv-'));
    writeFileSync(path.join(dir, '.env'), 'SOCKET_LOG_LEVEL=loud\nSOCKET_BUFFER_SIZE=1\n');
    try {
      process.chdir(dir);
      expect(loadConfig({}, { env: {} })).toEqual(DEFAULT_CONFIG);
      expect(loadConfig()).toEqual(loadConfig({}, { env: process.env, envFile: false }));
      // Asked for by path (relative to the working directory), it is read.
      expect(configError(() => loadConfig({}, { env: {}, envFile: '.env' })).message).toBe(
        `SOCKET_LOG_LEVEL="loud" (.env ${path.join(dir, '.env')}): expected one of silly, trace, debug, info, warn, ` +
          `error, fatal, silent`,
      );
    } finally {
      process.chdir(cwd);
    }
  });

  it('SOCKET_ENV_FILE names a .env file to read; envFile: false or an explicit envFile wins over it', () => {
    const named = writeEnvFile({ SOCKET_BUFFER_SIZE: '33' });
    const other = writeEnvFile({ SOCKET_BUFFER_SIZE: '44' });
    expect(loadConfig({}, { env: { SOCKET_ENV_FILE: named } }).bufferSize).toBe(33);
    expect(loadConfig({}, { env: { SOCKET_ENV_FILE: named }, envFile: false }).bufferSize).toBe(4096);
    expect(loadConfig({}, { env: { SOCKET_ENV_FILE: named }, envFile: other }).bufferSize).toBe(44);
    // The environment still beats the file it names.
    expect(loadConfig({}, { env: { SOCKET_ENV_FILE: named, SOCKET_BUFFER_SIZE: '55' } }).bufferSize).toBe(55);
  });

  it('a missing .env file that was asked for is a ValidationError naming the path and who named it', () => {
    const missing = path.join(tmp(), 'does-not-exist.env');
    const err = configError(() => loadConfig({}, { env: {}, envFile: missing }));
    expect(err.message).toContain(missing);
    expect(err.message).toContain('named by option');
    expect(err.details.path).toBe(missing);
    expect(configError(() => loadConfig({}, { env: { SOCKET_ENV_FILE: missing } })).message).toContain(
      'named by SOCKET_ENV_FILE',
    );
  });

  it('.env values do not leak into process.env', () => {
    const envFile = writeEnvFile({ SOCKET_TEST_ONLY_MARKER: 'x', SOCKET_BUFFER_SIZE: '77' });
    expect(loadConfig({}, { env: {}, envFile }).bufferSize).toBe(77);
    expect(process.env.SOCKET_TEST_ONLY_MARKER).toBeUndefined();
  });
});

describe('every key from its environment variable', () => {
  // A non-default value for each of the 16 keys, as a string and as parsed.
  const values = Object.fromEntries(
    Object.entries(NON_DEFAULT).map(([k, [raw, parsed]]) => [k, [String(raw), parsed] as const]),
  );

  it('CONFIG_KEYS lists the 16 keys of the design with their variables', () => {
    expect(CONFIG_KEYS).toHaveLength(16);
    expect(CONFIG_KEYS.map((k) => k.path).sort()).toEqual(Object.keys(values).sort());
    expect(Object.fromEntries(CONFIG_KEYS.map((k) => [k.path, k.env]))).toEqual({
      socketDir: 'SOCKET_DIR',
      defaultTimeoutMs: 'SOCKET_DEFAULT_TIMEOUT',
      bufferSize: 'SOCKET_BUFFER_SIZE',
      timezone: 'SOCKET_TIMEZONE',
      messageQueueSize: 'SOCKET_MESSAGE_QUEUE_SIZE',
      blockingMode: 'SOCKET_BLOCKING_MODE',
      allowClientSend: 'SOCKET_ALLOW_CLIENT_SEND',
      maxMessageSize: 'SOCKET_MAX_MESSAGE_SIZE',
      logLevel: 'SOCKET_LOG_LEVEL',
      'unix.maxConnections': 'SOCKET_UNIX_MAX_CONNECTIONS',
      'unix.socketPermissions': 'SOCKET_UNIX_SOCKET_PERMISSIONS',
      'unix.autoRemoveSocket': 'SOCKET_UNIX_AUTO_REMOVE_SOCKET',
      'tcp.host': 'SOCKET_TCP_HOST',
      'tcp.portRangeStart': 'SOCKET_TCP_PORT_RANGE_START',
      'tcp.portRangeEnd': 'SOCKET_TCP_PORT_RANGE_END',
      'tcp.maxConnections': 'SOCKET_TCP_MAX_CONNECTIONS',
    });
  });

  it.each(CONFIG_KEYS.map((k) => [k.env, k.path] as const))('%s sets %s', (envName, dotted) => {
    const [raw, parsed] = values[dotted]!;
    expect(at(DEFAULT_CONFIG, dotted)).not.toEqual(parsed); // the test value really changes something
    const fromEnv = loadConfig({}, { env: { [envName]: raw }, envFile: false });
    expect(at(fromEnv, dotted)).toEqual(parsed);
    const fromDotenv = loadConfig({}, { env: {}, envFile: writeEnvFile({ [envName]: raw }) });
    expect(at(fromDotenv, dotted)).toEqual(parsed);
    // Only that key changed.
    const expected = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, Record<string, unknown>>;
    const [head, tail] = dotted.split('.') as [string, string | undefined];
    if (tail === undefined) (expected as Record<string, unknown>)[head] = parsed;
    else expected[head]![tail] = parsed;
    expect(fromEnv).toEqual(expected);
    expect(fromDotenv).toEqual(expected);
  });

  it('all 16 at once', () => {
    const env = Object.fromEntries(CONFIG_KEYS.map((k) => [k.env, values[k.path]![0]]));
    const c = loadConfig({}, { env, envFile: false });
    for (const k of CONFIG_KEYS) expect(at(c, k.path)).toEqual(values[k.path]![1]);
  });

  it('trims surrounding whitespace in numbers and strings', () => {
    const c = loadConfig(
      {},
      { env: { SOCKET_BUFFER_SIZE: ' 12 ', SOCKET_TCP_HOST: ' h.local ', SOCKET_LOG_LEVEL: ' WARN ' }, envFile: false },
    );
    expect([c.bufferSize, c.tcp.host, c.logLevel]).toEqual([12, 'h.local', 'warn']);
  });
});

describe('value parsing', () => {
  it.each([
    ['true', true],
    ['false', false],
    ['1', true],
    ['0', false],
    ['TRUE', true],
    ['False', false],
    ['yes', true],
    ['no', false],
    ['on', true],
    ['off', false],
  ])('boolean %j -> %p', (raw, expected) => {
    for (const envName of ['SOCKET_BLOCKING_MODE', 'SOCKET_ALLOW_CLIENT_SEND', 'SOCKET_UNIX_AUTO_REMOVE_SOCKET']) {
      const c = loadConfig({}, { env: { [envName]: raw }, envFile: false });
      const key = CONFIG_KEYS.find((k) => k.env === envName)!.path;
      expect(at(c, key)).toBe(expected);
    }
  });

  it.each(['maybe', '2', '', 'tru'])('boolean %j is rejected', (raw) => {
    const err = configError(() => loadConfig({}, { env: { SOCKET_BLOCKING_MODE: raw }, envFile: false }));
    expect(err.message).toBe(`SOCKET_BLOCKING_MODE=${JSON.stringify(raw)} (environment): expected true or false`);
  });

  it('booleans from options', () => {
    expect(loadConfig({ blockingMode: true, allowClientSend: false }, isolated)).toMatchObject({
      blockingMode: true,
      allowClientSend: false,
    });
  });

  it.each([
    ['600', '0600'],
    ['0600', '0600'],
    ['644', '0644'],
    ['0700', '0700'],
    ['000', '0000'],
  ])('octal permissions %j are normalised to %j', (raw, expected) => {
    expect(
      loadConfig({}, { env: { SOCKET_UNIX_SOCKET_PERMISSIONS: raw }, envFile: false }).unix.socketPermissions,
    ).toBe(expected);
    expect(loadConfig({ unix: { socketPermissions: raw } }, isolated).unix.socketPermissions).toBe(expected);
  });

  it.each(['0999', '999', '0800', '60', '06000', 'rw-------', '0o600', ''])(
    'octal permissions %j are rejected',
    (raw) => {
      const err = configError(() => loadConfig({}, { env: { SOCKET_UNIX_SOCKET_PERMISSIONS: raw }, envFile: false }));
      expect(err.message).toBe(
        `SOCKET_UNIX_SOCKET_PERMISSIONS=${JSON.stringify(raw)} (environment): expected an octal string such as "0600"`,
      );
    },
  );

  it('parsePermissions turns the octal string into a mode', () => {
    expect(parsePermissions('0600')).toBe(0o600);
    expect(parsePermissions('0755')).toBe(0o755);
    expect(
      parsePermissions(
        loadConfig({}, { env: { SOCKET_UNIX_SOCKET_PERMISSIONS: '640' }, envFile: false }).unix.socketPermissions,
      ),
    ).toBe(0o640);
  });

  it('accepts any IANA zone and rejects unknown ones', () => {
    expect(loadConfig({ timezone: 'America/New_York' }, isolated).timezone).toBe('America/New_York');
    const err = configError(() => loadConfig({}, { env: { SOCKET_TIMEZONE: 'Mars/Olympus_Mons' }, envFile: false }));
    expect(err.message).toBe(
      'SOCKET_TIMEZONE="Mars/Olympus_Mons" (environment): expected an IANA time zone such as "UTC" or "Europe/Berlin"',
    );
    expect(configError(() => loadConfig({ timezone: 'Nowhere/Special' }, isolated)).message).toContain(
      'timezone="Nowhere/Special" (option)',
    );
  });

  it.each(['silly', 'trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])('log level %s', (level) => {
    expect(loadConfig({}, { env: { SOCKET_LOG_LEVEL: level }, envFile: false }).logLevel).toBe(level);
  });
});

const SECONDS = 'expected seconds > 0 and <= 86400 (a day), at least 0.001';
const TIMEOUT_MS = 'expected Infinity or an integer 1-2147483647 (milliseconds)';
const ABSOLUTE = 'expected an absolute path (a relative one would depend on the working directory)';

describe('timeouts (milliseconds; SOCKET_DEFAULT_TIMEOUT in seconds)', () => {
  it.each([
    [1, 1],
    [5000, 5000],
    [2 ** 31 - 1, 2 ** 31 - 1],
    [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY],
  ])('defaultTimeoutMs %p is accepted', (value, expected) => {
    expect(loadConfig({ defaultTimeoutMs: value }, isolated).defaultTimeoutMs).toBe(expected);
  });

  it.each([
    ['1', 1000],
    ['0.001', 1],
    ['0.25', 250],
    ['86400', 86_400_000],
  ])('SOCKET_DEFAULT_TIMEOUT=%j seconds is %p ms', (raw, ms) => {
    expect(loadConfig({}, { env: { SOCKET_DEFAULT_TIMEOUT: raw }, envFile: false }).defaultTimeoutMs).toBe(ms);
  });

  it('isValidTimeoutMs and assertTimeoutMs apply the same rule to engine timeouts', () => {
    expect([1, 2 ** 31 - 1, Number.POSITIVE_INFINITY].every(isValidTimeoutMs)).toBe(true);
    expect([0, -1, 1.5, 2 ** 31, Number.NaN, '10', null].some(isValidTimeoutMs)).toBe(false);
    expect(() => assertTimeoutMs('connectTimeout', 100)).not.toThrow();
    expect(configError(() => assertTimeoutMs('connectTimeout', 2 ** 32)).message).toBe(
      `connectTimeout=4294967296 (option): ${TIMEOUT_MS}`,
    );
  });
});

describe('invalid values', () => {
  it('names the env var, the source and the value (environment)', () => {
    const err = configError(() => loadConfig({}, { env: { SOCKET_TCP_PORT_RANGE_START: 'abc' }, envFile: false }));
    expect(err.message).toBe('SOCKET_TCP_PORT_RANGE_START="abc" (environment): expected an integer 1-65535');
    expect(err.details).toEqual({
      key: 'tcp.portRangeStart',
      env: 'SOCKET_TCP_PORT_RANGE_START',
      source: 'environment',
      value: 'abc',
    });
  });

  it('says (.env) for the same bad value in the .env file', () => {
    const envFile = writeEnvFile({ SOCKET_TCP_PORT_RANGE_START: 'abc' });
    const err = configError(() => loadConfig({}, { env: {}, envFile }));
    expect(err.message).toBe(`SOCKET_TCP_PORT_RANGE_START="abc" (.env ${envFile}): expected an integer 1-65535`);
    expect(err.details.source).toBe('.env');
  });

  it('names the option path and (option) for a bad override', () => {
    const overrides = { tcp: { portRangeStart: 'abc' } } as unknown as ConfigOverrides;
    const err = configError(() => loadConfig(overrides, isolated));
    expect(err.message).toBe('tcp.portRangeStart="abc" (option): expected an integer 1-65535');
    expect(err.details.source).toBe('option');
  });

  it.each([
    ['SOCKET_TCP_PORT_RANGE_START', '0', 'expected an integer 1-65535'],
    ['SOCKET_TCP_PORT_RANGE_END', '65536', 'expected an integer 1-65535'],
    ['SOCKET_TCP_PORT_RANGE_START', '1.5', 'expected an integer 1-65535'],
    ['SOCKET_TCP_PORT_RANGE_START', '', 'expected an integer 1-65535'],
    ['SOCKET_BUFFER_SIZE', '0', 'expected an integer >= 1'],
    ['SOCKET_BUFFER_SIZE', '-4', 'expected an integer >= 1'],
    ['SOCKET_BUFFER_SIZE', '12abc', 'expected an integer >= 1'],
    ['SOCKET_MAX_MESSAGE_SIZE', '99999999999', 'expected an integer <= 2147483647'],
    ['SOCKET_MESSAGE_QUEUE_SIZE', '-1', 'expected an integer >= 0'],
    ['SOCKET_UNIX_MAX_CONNECTIONS', '0', 'expected an integer >= 1'],
    ['SOCKET_TCP_MAX_CONNECTIONS', 'ten', 'expected an integer >= 1'],
    ['SOCKET_DEFAULT_TIMEOUT', '0', SECONDS],
    ['SOCKET_DEFAULT_TIMEOUT', '-1', SECONDS],
    ['SOCKET_DEFAULT_TIMEOUT', 'soon', SECONDS],
    ['SOCKET_DEFAULT_TIMEOUT', '86401', SECONDS], // above a day: milliseconds written by mistake
    ['SOCKET_DEFAULT_TIMEOUT', '5000000', SECONDS],
    ['SOCKET_DEFAULT_TIMEOUT', '0.0001', SECONDS], // rounds to 0 ms
    ['SOCKET_DEFAULT_TIMEOUT', 'Infinity', SECONDS],
    ['SOCKET_DIR', 'sockets', ABSOLUTE],
    ['SOCKET_DIR', './run/sockets', ABSOLUTE],
    ['SOCKET_DIR', '', 'expected a non-empty string'],
    ['SOCKET_DIR', '   ', 'expected a non-empty string'],
    ['SOCKET_TCP_HOST', '', 'expected a non-empty string'],
    ['SOCKET_LOG_LEVEL', 'loud', 'expected one of silly, trace, debug, info, warn, error, fatal, silent'],
  ])('%s=%j is rejected: %s', (envName, raw, expected) => {
    const err = configError(() => loadConfig({}, { env: { [envName]: raw }, envFile: false }));
    expect(err.message).toBe(`${envName}=${JSON.stringify(raw)} (environment): ${expected}`);
  });

  it.each([
    [{ bufferSize: 0 }, 'bufferSize=0 (option): expected an integer >= 1'],
    [{ bufferSize: 1.5 }, 'bufferSize=1.5 (option): expected an integer >= 1'],
    [{ defaultTimeoutMs: Number.NaN }, `defaultTimeoutMs=NaN (option): ${TIMEOUT_MS}`],
    [{ defaultTimeoutMs: 0 }, `defaultTimeoutMs=0 (option): ${TIMEOUT_MS}`],
    [{ defaultTimeoutMs: 1.5 }, `defaultTimeoutMs=1.5 (option): ${TIMEOUT_MS}`],
    [{ defaultTimeoutMs: 2 ** 31 }, `defaultTimeoutMs=2147483648 (option): ${TIMEOUT_MS}`], // would fire after 1 ms
    [{ defaultTimeoutMs: Number.NEGATIVE_INFINITY }, `defaultTimeoutMs=-Infinity (option): ${TIMEOUT_MS}`],
    [{ defaultTimeoutMs: '5000' }, `defaultTimeoutMs="5000" (option): ${TIMEOUT_MS}`],
    [{ socketDir: 'relative/dir' }, `socketDir="relative/dir" (option): ${ABSOLUTE}`],
    [{ blockingMode: 'sometimes' }, 'blockingMode="sometimes" (option): expected true or false'],
    [{ logLevel: 5 }, 'logLevel=5 (option): expected one of silly, trace, debug, info, warn, error, fatal, silent'],
    [
      { unix: { socketPermissions: 0o600 } },
      'unix.socketPermissions=384 (option): expected an octal string such as "0600"',
    ],
    [{ unix: { maxConnections: -1 } }, 'unix.maxConnections=-1 (option): expected an integer >= 1'],
    [{ tcp: { portRangeEnd: 70000 } }, 'tcp.portRangeEnd=70000 (option): expected an integer 1-65535'],
    [{ socketDir: null }, 'socketDir=null (option): expected a non-empty string'],
  ])('override %j is rejected', (overrides, message) => {
    const err = configError(() => loadConfig(overrides as unknown as ConfigOverrides, isolated));
    expect(err.message).toBe(message);
  });

  it('rejects portRangeStart > portRangeEnd from any combination of sources', () => {
    const msg = /tcp\.portRangeStart \(9200\) must not exceed tcp\.portRangeEnd \(9100\)/;
    expect(
      configError(() => loadConfig({}, { env: { SOCKET_TCP_PORT_RANGE_START: '9200' }, envFile: false })).message,
    ).toMatch(msg);
    expect(configError(() => loadConfig({ tcp: { portRangeStart: 9200 } }, isolated)).message).toMatch(msg);
    expect(
      configError(() =>
        loadConfig({ tcp: { portRangeEnd: 8000 } }, { env: { SOCKET_TCP_PORT_RANGE_START: '8001' }, envFile: false }),
      ).message,
    ).toMatch(/\(8001\) must not exceed tcp\.portRangeEnd \(8000\)/);
    // Equal is fine: a one-port range.
    const one = loadConfig({ tcp: { portRangeStart: 9050, portRangeEnd: 9050 } }, isolated);
    expect([one.tcp.portRangeStart, one.tcp.portRangeEnd]).toEqual([9050, 9050]);
  });
});

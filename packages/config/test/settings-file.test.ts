import { describe, it, expect } from '@jest/globals';
import path from 'node:path';
import { loadConfig, CONFIG_KEYS, DEFAULT_CONFIG } from '../src/index.js';
import { at, configError, NON_DEFAULT, tomlLiteral, useTempDir } from './helpers.js';

// The TOML settings file shared with the Python module (issue 14 item 6).
const temp = useTempDir('settings');
const write = (text: string, ext = 'toml'): string => temp.write('settings', ext, text);

const quiet = { env: {}, envFile: false, onWarning: () => undefined } as const;

// A file as the Python module writes it: its own tables and keys beside socketkit's.
const PYTHON_FILE = `
[app]
name = "orders-service"

[logging]
level = "DEBUG"

[socket]
socket_dir = "/run/shared-sockets"
default_timeout = 10
buffer_size = 8192
timezone = "Europe/Berlin"
message_queue_size = 50
blocking_mode = false
allow_client_send = false
max_message_size = 2097152
log_level = "error"

[socket.unix]
max_connections = 20
socket_permissions = "0660"
auto_remove_socket = false

[socket.tcp]
host = "0.0.0.0"
port_range_start = 9500
port_range_end = 9600
max_connections = 30
`;

describe('settings file (TOML shared with the Python module)', () => {
  it('reads every socketkit key of a Python module settings file; default_timeout is seconds', () => {
    const settingsFile = write(PYTHON_FILE);
    expect(loadConfig({}, { ...quiet, settingsFile })).toEqual({
      socketDir: '/run/shared-sockets',
      defaultTimeoutMs: 10_000,
      bufferSize: 8192,
      timezone: 'Europe/Berlin',
      messageQueueSize: 50,
      blockingMode: false,
      allowClientSend: false,
      maxMessageSize: 2097152,
      logLevel: 'error',
      unix: { maxConnections: 20, socketPermissions: '0660', autoRemoveSocket: false },
      tcp: { host: '0.0.0.0', portRangeStart: 9500, portRangeEnd: 9600, maxConnections: 30 },
    });
  });

  it('every key has a settings-file name: the env var without SOCKET_ (and its table prefix), lower case', () => {
    expect(CONFIG_KEYS.map((k) => `[${k.settings.table}] ${k.settings.key}`)).toEqual([
      '[socket] socket_dir',
      '[socket] default_timeout',
      '[socket] buffer_size',
      '[socket] timezone',
      '[socket] message_queue_size',
      '[socket] blocking_mode',
      '[socket] allow_client_send',
      '[socket] max_message_size',
      '[socket] log_level',
      '[socket.unix] max_connections',
      '[socket.unix] socket_permissions',
      '[socket.unix] auto_remove_socket',
      '[socket.tcp] host',
      '[socket.tcp] port_range_start',
      '[socket.tcp] port_range_end',
      '[socket.tcp] max_connections',
    ]);
  });

  it('is read only when named: option settingsFile, else SOCKET_SETTINGS_FILE (environment, then .env)', () => {
    const a = write('[socket]\nbuffer_size = 11\n');
    const b = write('[socket]\nbuffer_size = 22\n');
    const dotenv = write(`SOCKET_SETTINGS_FILE=${b}\n`, 'env');
    expect(loadConfig({}, quiet)).toEqual(DEFAULT_CONFIG);
    expect(loadConfig({}, { ...quiet, env: { SOCKET_SETTINGS_FILE: a } }).bufferSize).toBe(11);
    expect(loadConfig({}, { ...quiet, envFile: dotenv }).bufferSize).toBe(22);
    expect(loadConfig({}, { ...quiet, envFile: dotenv, env: { SOCKET_SETTINGS_FILE: a } }).bufferSize).toBe(11);
    expect(loadConfig({}, { ...quiet, env: { SOCKET_SETTINGS_FILE: a }, settingsFile: b }).bufferSize).toBe(22);
    expect(loadConfig({}, { ...quiet, env: { SOCKET_SETTINGS_FILE: a }, settingsFile: false }).bufferSize).toBe(4096);
  });

  it('precedence: defaults < settings file < .env < environment < options, key by key', () => {
    const settingsFile = write(
      '[socket]\nbuffer_size = 1\nmessage_queue_size = 2\nmax_message_size = 3\n[socket.tcp]\nhost = ' +
        '"settings.host"\nport_range_start = 9001\n',
    );
    const envFile = write(
      'SOCKET_MESSAGE_QUEUE_SIZE=20\nSOCKET_MAX_MESSAGE_SIZE=30\nSOCKET_TCP_HOST=dotenv.host\n',
      'env',
    );
    const env = { SOCKET_MAX_MESSAGE_SIZE: '300', SOCKET_TCP_HOST: 'env.host' };
    const c = loadConfig({ tcp: { host: 'option.host' } }, { env, envFile, settingsFile, onWarning: () => undefined });
    expect([
      c.bufferSize,
      c.messageQueueSize,
      c.maxMessageSize,
      c.tcp.host,
      c.tcp.portRangeStart,
      c.tcp.portRangeEnd,
    ]).toEqual([1, 20, 300, 'option.host', 9001, 9100]);
  });

  it('accepts TOML octal 0o660 for socket_permissions, as the mode it is', () => {
    expect(
      loadConfig({}, { ...quiet, settingsFile: write('[socket.unix]\nsocket_permissions = 0o660\n') }).unix
        .socketPermissions,
    ).toBe('0660');
  });

  it(
    'unknown keys in the socket tables are ignored with a warning naming file, table and key; other tables ' +
      'silently',
    () => {
      const file = write(
        '[app]\nanything = 1\n[socket]\nbuffer_size = 64\nreconnect_delay = 3\n[socket.tcp]\nport_range_strat = ' +
          '9000\n[socket.nats]\nurl = "x"\n',
      );
      const warnings: string[] = [];
      const c = loadConfig({}, { env: {}, envFile: false, settingsFile: file, onWarning: (w) => warnings.push(w) });
      expect(c.bufferSize).toBe(64);
      expect(warnings).toEqual([
        `${file} [socket] reconnect_delay: not a socketkit setting, ignored`,
        `${file} [socket] nats: not a socketkit setting, ignored`,
        `${file} [socket.tcp] port_range_strat: not a socketkit setting, ignored`,
      ]);
    },
  );

  it('the default warning goes through process.emitWarning, once per text', () => {
    const file = write('[socket]\nunused_key = 1\n');
    const calls: unknown[][] = [];
    const original = process.emitWarning;
    process.emitWarning = ((...args: unknown[]) => void calls.push(args)) as typeof process.emitWarning;
    try {
      loadConfig({}, { env: {}, envFile: false, settingsFile: file });
      loadConfig({}, { env: {}, envFile: false, settingsFile: file });
    } finally {
      process.emitWarning = original;
    }
    expect(calls).toEqual([
      [
        `${file} [socket] unused_key: not a socketkit setting, ignored`,
        { type: 'SocketkitWarning', code: 'SOCKETKIT_UNKNOWN_SETTING' },
      ],
    ]);
  });
});

describe('settings file errors name file, table, key and value', () => {
  it.each([
    ['[socket.tcp]\nport_range_start = "abc"\n', '[socket.tcp] port_range_start="abc"', 'expected an integer 1-65535'],
    ['[socket.tcp]\nport_range_start = 0\n', '[socket.tcp] port_range_start=0', 'expected an integer 1-65535'],
    [
      '[socket]\ndefault_timeout = 90000\n',
      '[socket] default_timeout=90000',
      'expected seconds > 0 and <= 86400 (a day), at least 0.001',
    ],
    [
      '[socket]\ndefault_timeout = inf\n',
      '[socket] default_timeout=Infinity',
      'expected seconds > 0 and <= 86400 (a day), at least 0.001',
    ],
    [
      '[socket]\nsocket_dir = "sockets"\n',
      '[socket] socket_dir="sockets"',
      'expected an absolute path (a relative one would depend on the working directory)',
    ],
    ['[socket]\nblocking_mode = "sometimes"\n', '[socket] blocking_mode="sometimes"', 'expected true or false'],
    [
      '[socket.unix]\nsocket_permissions = 0o1777\n',
      '[socket.unix] socket_permissions=1023',
      'expected an octal string such as "0600"',
    ],
    [
      '[socket]\ntimezone = "Mars/Base"\n',
      '[socket] timezone="Mars/Base"',
      'expected an IANA time zone such as "UTC" or "Europe/Berlin"',
    ],
  ])('%j', (text, name, expected) => {
    const file = write(text);
    const err = configError(() => loadConfig({}, { ...quiet, settingsFile: file }));
    expect(err.message).toBe(`${file} ${name} (settings file): ${expected}`);
    expect(err.details.source).toBe('settings file');
  });

  it('a higher source hides a bad settings-file value (it is never read)', () => {
    const file = write('[socket.tcp]\nport_range_start = "abc"\n');
    expect(
      loadConfig({}, { ...quiet, settingsFile: file, env: { SOCKET_TCP_PORT_RANGE_START: '9005' } }).tcp.portRangeStart,
    ).toBe(9005);
  });

  it('invalid TOML names the file and the line', () => {
    const file = write('[socket]\nbuffer_size = \n');
    const err = configError(() => loadConfig({}, { ...quiet, settingsFile: file }));
    expect(err.message).toContain(`settings file ${file} is not valid TOML`);
    expect(err.message).toMatch(/2:/);
  });

  it('an integer beyond 2^53 is refused by the parser, never rounded', () => {
    const file = write('[socket]\nmax_message_size = 9007199254740993\n');
    expect(configError(() => loadConfig({}, { ...quiet, settingsFile: file })).message).toContain('not valid TOML');
  });

  it('a socket table that is not a table', () => {
    const file = write('socket = 5\n');
    expect(configError(() => loadConfig({}, { ...quiet, settingsFile: file })).message).toBe(
      `${file} [socket]: expected a table, got 5`,
    );
    const file2 = write('[socket]\nunix = "yes"\n');
    expect(configError(() => loadConfig({}, { ...quiet, settingsFile: file2 })).message).toBe(
      `${file2} [socket.unix]: expected a table, got "yes"`,
    );
  });

  it('a missing settings file that was named is an error naming path and who named it', () => {
    const missing = path.join(temp.dir(), 'nope.toml');
    expect(configError(() => loadConfig({}, { ...quiet, settingsFile: missing })).message).toContain(
      `cannot read settings file ${missing} (named by option)`,
    );
    expect(configError(() => loadConfig({}, { ...quiet, env: { SOCKET_SETTINGS_FILE: missing } })).message).toContain(
      '(named by SOCKET_SETTINGS_FILE)',
    );
  });

  it('each key alone, from the settings file, changes exactly that key', () => {
    for (const k of CONFIG_KEYS) {
      const [raw, parsed] = NON_DEFAULT[k.path]!;
      const c = loadConfig(
        {},
        { ...quiet, settingsFile: write(`[${k.settings.table}]\n${k.settings.key} = ${tomlLiteral(raw)}\n`) },
      );
      expect(at(c, k.path)).toEqual(parsed);
      expect(at(DEFAULT_CONFIG, k.path)).not.toEqual(parsed);
    }
  });
});

// Issue 23 item 8: options are checked as plain JavaScript passes them. An
// unknown key is refused (INVALID_CONFIG, naming the nearest valid key), a
// value of the wrong type says what it got. Every constructor (unix, tcp,
// nats, the createServer/createClient facade) goes through the one table
// of its options. Options are passed as `never` here: TypeScript would
// refuse them, plain JavaScript does not (see also the .mjs run at the end).
import { afterAll, describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NatsSocketClient, NatsSocketServer } from '@socketkit/nats';
import { TcpSocketClient, TcpSocketServer } from '@socketkit/tcp';
import { UnixSocketClient, UnixSocketServer } from '@socketkit/unix';
import { ErrorCode, ValidationError, createClient, createServer } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sk-opts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { logLevel: 'silent', envFile: false, env: {} };

function refusal(make: () => unknown): ValidationError {
  try {
    make();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).code).toBe(ErrorCode.INVALID_CONFIG);
    return err as ValidationError;
  }
  throw new Error('the options were accepted');
}

const constructors: Array<[string, (o: never) => unknown, 'server' | 'client']> = [
  ['UnixSocketServer', (o) => new UnixSocketServer(o), 'server'],
  ['UnixSocketClient', (o) => new UnixSocketClient(o), 'client'],
  ['TcpSocketServer', (o) => new TcpSocketServer(o), 'server'],
  ['TcpSocketClient', (o) => new TcpSocketClient(o), 'client'],
  ['NatsSocketServer', (o) => new NatsSocketServer(o), 'server'],
  ['NatsSocketClient', (o) => new NatsSocketClient(o), 'client'],
];

describe('unknown option keys', () => {
  test.each(constructors)('%s refuses socketdir, naming socketDir or the valid keys', (name, make) => {
    const err = refusal(() => make({ ...quiet, eventName: 'opts', socketdir: dir } as never));
    expect(err.message).toContain(`unknown option 'socketdir' for ${name}`);
    // Unix and TCP have socketDir; NATS has no socket directory at all.
    if (!name.startsWith('Nats')) expect(err.message).toContain("did you mean 'socketDir'?");
    expect(err.details?.key).toBe('socketdir');
  });

  test.each(constructors)(
    '%s refuses a misspelt engine option (maxconnection / connectTimout)',
    (_name, make, side) => {
      const key = side === 'server' ? 'maxconnection' : 'connectTimout';
      const err = refusal(() => make({ ...quiet, eventName: 'opts', [key]: 5 } as never));
      expect(err.message).toContain(`did you mean '${side === 'server' ? 'maxConnections' : 'connectTimeout'}'?`);
    },
  );

  test('a key that is near nothing lists the valid ones', () => {
    const err = refusal(() => new UnixSocketClient({ ...quiet, eventName: 'opts', zzzzzz: 1 } as never));
    expect(err.message).toMatch(/the options are .*socketDir/);
  });

  test('nested objects: reconnect.maxRetry and tls.rejectUnauthorised', () => {
    expect(
      refusal(() => new UnixSocketClient({ ...quiet, eventName: 'opts', reconnect: { maxRetry: 3 } } as never)).message,
    ).toContain("unknown option 'reconnect.maxRetry' for UnixSocketClient: did you mean 'reconnect.maxRetries'?");
    expect(
      refusal(() => new TcpSocketServer({ ...quiet, eventName: 'opts', tls: { rejectUnauthorised: false } } as never))
        .message,
    ).toContain("did you mean 'tls.rejectUnauthorized'?");
  });

  test('createServer / createClient refuse them too (the facade goes through the constructors)', async () => {
    for (const type of ['unix', 'tcp', 'nats'] as const) {
      await expect(createClient(type, 'opts', { ...quiet, socketdir: dir } as never)).rejects.toMatchObject({
        code: ErrorCode.INVALID_CONFIG,
        message: expect.stringContaining("unknown option 'socketdir'"),
      });
      await expect(createServer(type, 'opts', { ...quiet, sockedDir: dir } as never)).rejects.toMatchObject({
        code: ErrorCode.INVALID_CONFIG,
      });
    }
  });
});

describe('wrong types say what they got', () => {
  test('port as a string: "port must be an integer 0–65535, got the string \'9050\'"', () => {
    expect(refusal(() => new TcpSocketServer({ ...quiet, eventName: 'opts', port: '9050' } as never)).message).toBe(
      "port must be an integer 0–65535, got the string '9050' (TcpSocketServer)",
    );
    expect(refusal(() => new TcpSocketClient({ ...quiet, eventName: 'opts', port: 70000 } as never)).message).toContain(
      'port must be an integer 1–65535, got the number 70000',
    );
  });

  test.each(constructors)('%s: wrong types of common options', (_name, make) => {
    expect(refusal(() => make({ ...quiet, eventName: 'opts', maxMessageSize: '1024' } as never)).message).toContain(
      "maxMessageSize must be an integer >= 1, got the string '1024'",
    );
    expect(refusal(() => make({ ...quiet, eventName: 'opts', timezone: 3 } as never)).message).toContain(
      'timezone must be a string, got the number 3',
    );
    expect(refusal(() => make({ ...quiet, eventName: 'opts', token: 12345 } as never)).message).toContain(
      'token must be a string, got the number 12345',
    );
    expect(refusal(() => make({ ...quiet, eventName: 'opts', defaultTimeoutMs: null } as never)).message).toContain(
      'defaultTimeoutMs must be Infinity or an integer number of milliseconds',
    );
    expect(refusal(() => make({ ...quiet, eventName: 'opts', envFile: true } as never)).message).toContain(
      'envFile must be a file path or false, got true',
    );
  });

  test('booleans, lists, enums and nested values', () => {
    expect(
      refusal(() => new UnixSocketServer({ ...quiet, eventName: 'opts', autoRemoveSocket: 'false' } as never)).message,
    ).toContain("autoRemoveSocket must be true or false, got the string 'false'");
    expect(
      refusal(() => new UnixSocketClient({ ...quiet, eventName: 'opts', trustedUids: 1000 } as never)).message,
    ).toContain('trustedUids must be an array of integers >= 0, got the number 1000');
    expect(
      refusal(() => new UnixSocketClient({ ...quiet, eventName: 'opts', offlineSend: 'drop' } as never)).message,
    ).toContain("offlineSend must be one of 'buffer', 'reject', got the string 'drop'");
    expect(
      refusal(() => new UnixSocketClient({ ...quiet, eventName: 'opts', reconnect: { maxDelay: '5s' } } as never))
        .message,
    ).toContain("reconnect.maxDelay must be an integer 0–2147483647, got the string '5s'");
    expect(
      refusal(() => new TcpSocketClient({ ...quiet, eventName: 'opts', tls: { minVersion: 'TLSv1.1' } } as never))
        .message,
    ).toContain("tls.minVersion must be one of 'TLSv1.2', 'TLSv1.3'");
    expect(
      refusal(() => new NatsSocketClient({ ...quiet, eventName: 'opts', servers: 4222 } as never)).message,
    ).toContain('servers must be a string or an array of URLs, got the number 4222');
  });

  test('a secret is never shown', () => {
    const err = refusal(
      () => new TcpSocketServer({ ...quiet, eventName: 'opts', tls: { passphrase: ['hunter2'] } } as never),
    );
    expect(err.message).not.toContain('hunter2');
  });

  test('undefined means "not given" and valid options still construct', () => {
    const c = new UnixSocketClient({
      ...quiet,
      eventName: 'opts',
      socketDir: dir,
      token: undefined,
      reconnect: { maxRetries: 3 },
    } as never);
    expect(c.socketPath).toBe(join(dir, 'opts.sock'));
    expect(
      () => new TcpSocketServer({ ...quiet, eventName: 'opts', socketDir: dir, port: 0, tls: undefined } as never),
    ).not.toThrow();
  });
});

test('plain JavaScript (.mjs): the socketdir typo is refused instead of using /tmp/sockets', () => {
  const script = join(dir, 'typo.mjs');
  writeFileSync(
    script,
    `import { UnixSocketServer } from ${JSON.stringify(createRequire(import.meta.url).resolve('@socketkit/unix'))};
try {
  new UnixSocketServer({ eventName: 'typo', socketdir: ${JSON.stringify(dir)}, logLevel: 'silent' });
  console.log('accepted');
} catch (e) {
  console.log(e.code + ': ' + e.message);
}
`,
  );
  const out = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  expect(out.stdout.trim()).toBe(
    "INVALID_CONFIG: unknown option 'socketdir' for UnixSocketServer: did you mean 'socketDir'?",
  );
});

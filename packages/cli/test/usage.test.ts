import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, killAll, runCli } from './helpers.js';

let cwd: string;
beforeAll(() => {
  ensureBuilt();
  cwd = mkdtempSync(join(tmpdir(), 'sk-'));
});
afterEach(killAll);
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('--help', () => {
  test('socketkit --help lists every command and exits 0', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await runCli(args, cwd);
      expect(r.code).toBe(0);
      for (const c of ['serve', 'listen', 'send', 'request', 'bench']) expect(r.stdout).toContain(c);
      expect(r.stdout).toContain('exit codes');
    }
  });

  test('a bare socketkit exits 2 with the usage on stderr', async () => {
    const r = await runCli([], cwd);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('usage: socketkit <command>');
    for (const c of ['serve', 'listen', 'send', 'request']) expect(r.stderr).toContain(c);
  });

  test('the help names every transport and what nats needs installed', async () => {
    const r = await runCli(['--help'], cwd);
    expect(r.stdout).toMatch(/Unix domain sockets, TCP or NATS/);
    expect(r.stdout).toContain('unix|tcp|nats');
    expect(r.stdout).toContain('npm install @socketkit/nats');
  });

  test.each(['serve', 'listen', 'send', 'request', 'bench'])(
    'socketkit %s --help exits 0 with its usage',
    async (command) => {
      for (const args of [
        [command, '--help'],
        [command, '-h'],
        ['help', command],
      ]) {
        const r = await runCli(args, cwd);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain(`usage: socketkit ${command}`);
      }
    },
  );

  test('--help wins over other (even invalid) flags', async () => {
    const r = await runCli(['listen', '--transport', 'tcp', '--help'], cwd);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--count');
  });

  test('--help says the CLI reads ./.env and names SOCKET_ENV_FILE and SOCKET_SETTINGS_FILE', async () => {
    const r = await runCli(['--help'], cwd);
    expect(r.stdout).toContain('reads ./.env');
    expect(r.stdout).toContain('SOCKET_ENV_FILE');
    expect(r.stdout).toContain('SOCKET_SETTINGS_FILE');
  });

  test('--version prints the version', async () => {
    const r = await runCli(['--version'], cwd);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('usage errors exit 2 and point to --help', () => {
  test.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['--bogus'], /unknown option --bogus/],
    [['listen'], /missing the event name/],
    [['listen', 'a', 'b'], /unexpected argument "b"/],
    [['listen', 'bad/name'], /invalid event name/],
    [['listen', 'jobs', '--bogus'], /Unknown option '--bogus'/],
    [['listen', 'jobs', '--transport', 'udp'], /--transport must be unix, tcp or nats/],
    [['listen', 'jobs', '--servers', 'nats://127.0.0.1:4222'], /--servers applies to --transport nats/],
    [['listen', 'jobs', '--transport', 'nats', '--port', '9000'], /--host and --port apply to --transport tcp/],
    [['listen', 'jobs', '--port', '9000'], /--host and --port apply to --transport tcp/],
    [
      ['listen', 'jobs', '--transport', 'nats', '--socket-dir', '/tmp'],
      /--socket-dir applies to --transport unix and tcp/,
    ],
    [['listen', 'jobs', '--tls-ca', '/tmp/ca.pem'], /--tls-\* and --allow-insecure apply to --transport tcp/],
    [['serve', 'jobs', '--transport', 'tcp', '--tls-cert', 'c.pem'], /--tls-cert and --tls-key go together/],
    [['serve', 'jobs', '--transport', 'tcp', '--tls-ca', 'ca.pem'], /serve with TLS needs --tls-cert/],
    [
      ['serve', 'jobs', '--transport', 'tcp', '--tls-cert', 'c', '--tls-key', 'k', '--tls-request-cert'],
      /--tls-request-cert needs --tls-ca/,
    ],
    [['listen', 'jobs', '--transport', 'tcp', '--port', 'http'], /--port must be an integer/],
    [['listen', 'jobs', '--transport', 'tcp', '--port', '0'], /--port must be an integer 1-65535/],
    [['listen', 'jobs', '--count', '0'], /--count must be an integer/],
    [['listen', 'jobs', '--type', 'info'], /--type must be data, error or control/],
    [['listen', 'jobs', '--timeout', 'soon'], /--timeout must be a number of seconds/],
    [['listen', 'jobs', '--timeout', '86401'], /--timeout must be a number of seconds from 0.001 to 86400/],
    [['listen', 'jobs', '--log-level', 'loud'], /--log-level must be one of/],
    [['listen', 'jobs', '--count'], /argument missing/],
    [['send', 'jobs', '--data', '{nope'], /--data is not valid JSON/],
    [['send', 'jobs', '--data', '[1,2]'], /--data must be a JSON object/],
    [['request', 'jobs', '--data', '42'], /--data must be a JSON object/],
    [['serve', 'jobs', '--count', '1'], /Unknown option '--count'/],
    [['help', 'nope'], /unknown command "nope"/],
  ])('socketkit %j', async (args, pattern) => {
    const r = await runCli(args, cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).toContain('--help" for usage');
    expect(r.stdout).toBe('');
  });
});

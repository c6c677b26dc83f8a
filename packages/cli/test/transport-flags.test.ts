// A registered transport declares its own CLI flags (issue 24): the CLI's parser, help and the options handed
// to the transport come from the registry, so a transport added with registerTransport() needs no CLI change.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnixClientTransport, UnixSocketClient, UnixSocketServer } from '@socketkit/unix';
import { integerFlag, registerTransport, type SocketMessage, type TransportImplementation } from 'socketkit';
import { HELP, parseCommand } from '../src/args.js';
import { main } from '../src/cli.js';

// The fake transport runs over a real unix socket in this directory; it records the options the CLI gave it.
let dir: string;
const handed: Record<string, unknown>[] = [];
const fake: TransportImplementation = {
  createServer: (o) => new UnixSocketServer({ eventName: o.eventName, socketDir: dir }),
  createClient: (o) => {
    handed.push(o);
    const { speed: _speed, loud: _loud, ...rest } = o;
    return new UnixSocketClient({ ...rest, eventName: o.eventName, socketDir: dir });
  },
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sk-flags-'));
  registerTransport('cli-fake', {
    package: 'cli-fake',
    load: async () => fake,
    cli: {
      flags: [
        {
          name: 'fake-speed',
          type: 'string',
          value: 'N',
          help: 'messages per second\n(default 10)',
          option: 'speed',
          parse: (value) => integerFlag('fake-speed', String(value), 1, 1000),
        },
        { name: 'fake-loud', type: 'boolean', help: 'announce every client', commands: ['serve'], option: 'loud' },
      ],
    },
  });
});

// A second fake that `socketkit stats` reads: its monitor transport is a unix one in the same directory.
const statsHanded: Record<string, unknown>[] = [];
beforeAll(() => {
  registerTransport('cli-fake-stats', {
    package: 'cli-fake-stats',
    load: async () => ({
      ...fake,
      createStatsTransport: (o) => {
        statsHanded.push(o);
        return new UnixClientTransport(dir, o.eventName);
      },
    }),
    cli: { flags: [{ name: 'fake-zone', type: 'string', value: 'Z', help: 'zone', option: 'zone' }], stats: true },
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('flags a registered transport declares', () => {
  test('are in the help: common ones under "common options", command ones in that command, named by transport', () => {
    const line = '  --fake-speed N        cli-fake: messages per second\n                        (default 10)';
    for (const topic of ['main', 'serve', 'listen', 'send', 'request', 'stats'] as const) {
      expect(HELP[topic]).toContain(line);
    }
    expect(HELP.serve).toContain('  --fake-loud           cli-fake: announce every client');
    expect(HELP.listen).not.toContain('--fake-loud');
    // The built-in transports' flags come from the same registry, with their old wording.
    expect(HELP.listen).toContain('  --tls-key FILE        tcp: PEM private key of --tls-cert');
    expect(HELP.serve).toContain('  --allow-insecure      tcp: bind a non-loopback --host without token or TLS');
  });

  test('are parsed into the options of that transport, and refused on another one or with a bad value', () => {
    expect(parseCommand(['listen', 'jobs', '--transport', 'cli-fake', '--fake-speed', '3'])).toMatchObject({
      transport: 'cli-fake',
      transportOptions: { speed: 3 },
    });
    expect(parseCommand(['serve', 'jobs', '--transport', 'cli-fake', '--fake-loud'])).toMatchObject({
      transportOptions: { loud: true },
    });
    const fakeListen = ['listen', 'jobs', '--transport', 'cli-fake'];
    const refused: [string[], string][] = [
      [['listen', 'jobs', '--fake-speed', '3'], '--fake-speed applies to --transport cli-fake'],
      [[...fakeListen, '--fake-speed', '0'], '--fake-speed must be an integer 1-1000, got "0"'],
      [[...fakeListen, '--fake-loud'], "Unknown option '--fake-loud'"],
      [['stats', 'jobs', '--transport', 'cli-fake'], 'stats reads unix, tcp and cli-fake-stats servers: --transport'],
    ];
    for (const [argv, message] of refused) expect(() => parseCommand(argv)).toThrow(message);
    // The built-in ones: tcp's options, made by its declaration.
    expect(parseCommand(['serve', 'jobs', '--transport', 'tcp', '--port', '0', '--allow-insecure'])).toMatchObject({
      transportOptions: { port: 0, allowInsecure: true },
    });
    expect(parseCommand(['send', 'jobs', '--transport', 'nats', '--servers', 'nats://a:1, nats://b:2'])).toMatchObject({
      transportOptions: { servers: ['nats://a:1', 'nats://b:2'] },
    });
  });

  test('socketkit stats reads a transport that declares stats, through its createStatsTransport', async () => {
    const transports = 'unix|tcp|cli-fake-stats';
    expect(HELP.stats).toContain(`usage: socketkit stats <event> [--transport ${transports}] [--socket-dir DIR]`);
    expect(HELP.stats).toContain(`(--transport ${transports}, --socket-dir, --host, --port, --tls-*, --fake-zone,`);
    const server = new UnixSocketServer({ eventName: 'zoned', socketDir: dir, logLevel: 'silent' });
    await server.start();
    const write = process.stdout.write;
    let printed = '';
    process.stdout.write = ((chunk: string) => {
      printed += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      const code = await main(['stats', 'zoned', '--transport', 'cli-fake-stats', '--fake-zone', 'b', '--json']);
      process.stdout.write = write;
      expect(code).toBe(0);
      expect(JSON.parse(printed)).toMatchObject({ event: 'zoned' });
      expect(statsHanded).toEqual([{ eventName: 'zoned', zone: 'b' }]);
    } finally {
      process.stdout.write = write;
      await server.stop();
    }
  });

  test('reach the transport: socketkit send --transport cli-fake --fake-speed 3 hands it speed 3', async () => {
    const server = new UnixSocketServer({ eventName: 'jobs', socketDir: dir });
    const got = new Promise<SocketMessage>((resolve) => server.on('message', resolve));
    await server.start();
    try {
      const code = await main(['send', 'jobs', '--transport', 'cli-fake', '--fake-speed', '3', '--data', '{"n": 1}']);
      expect(code).toBe(0);
      expect((await got).data).toEqual({ n: 1 });
      expect(handed).toHaveLength(1);
      expect(handed[0]).toMatchObject({ eventName: 'jobs', speed: 3 });
    } finally {
      await server.stop();
    }
  });
});

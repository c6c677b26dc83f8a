import { describe, expect, test } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { cleanSocketDir, type LsEntry } from '../src/ls.js';
import { TcpSocketServer } from '@socketkit/tcp';
import { UnixSocketClient, UnixSocketServer } from '@socketkit/unix';
import { runCli, useTestDir } from './helpers.js';

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const NOBODY = 65534;
let dir = '';
useTestDir('sk-ls-', (d) => {
  dir = d;
});

/** Leaves a socket file nobody listens on: a child binds it and is SIGKILLed. */
function staleSocket(path: string, mode = 0o600): void {
  const r = spawnSync(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => { ` +
      `require('fs').chmodSync(${JSON.stringify(path)}, ${mode}); process.kill(process.pid, 'SIGKILL'); })`,
  ]);
  expect(r.signal).toBe('SIGKILL');
  expect(existsSync(path)).toBe(true);
}

/**
 * Where another user may put a symlink: `shared/d` in a world-writable, sticky `shared` of the test directory (opened
 * to all: mode 0755). Returns the link's path (not created).
 */
function linkInSharedDir(): string {
  const shared = join(dir, 'shared');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  chmodSync(dir, 0o755);
  return join(shared, 'd');
}

interface Row {
  event: string;
  state: string;
  mode: string;
  insecure: boolean;
}

describe('socketkit ls', () => {
  test('shows live, stale, not-a-socket and insecure entries; --clean removes only the stale socket', async () => {
    const server = new UnixSocketServer({ eventName: 'live', socketDir: dir, logLevel: 'silent' });
    await server.start();
    try {
      staleSocket(join(dir, 'gone.sock'));
      staleSocket(join(dir, 'open.sock'), 0o666);
      writeFileSync(join(dir, 'plain.sock'), 'not a socket');

      const list = await runCli(['ls', '--socket-dir', dir, '--json'], dir);
      expect(list.code).toBe(0);
      const rows = (JSON.parse(list.stdout) as Row[]).map(({ event, state, mode, insecure }) => ({
        event,
        state,
        mode,
        insecure,
      }));
      expect(rows).toEqual([
        { event: 'gone', state: 'stale', mode: '0600', insecure: false },
        { event: 'live', state: 'live', mode: '0600', insecure: false },
        { event: 'open', state: 'stale', mode: '0666', insecure: true },
        { event: 'plain', state: 'not-a-socket', mode: expect.any(String), insecure: expect.any(Boolean) },
      ]);

      const table = await runCli(['ls', '--socket-dir', dir], dir);
      expect(table.stdout.split('\n')[0]).toMatch(
        /^EVENT\s+TRANSPORT\s+STATE\s+CLIENTS\s+QUEUE\s+IN\/s\s+OUT\/s\s+OWNER\s+MODE\s+PATH$/,
      );
      expect(table.stdout).toMatch(/open\s+unix\s+stale \(insecure\)/);

      const clean = await runCli(['ls', '--socket-dir', dir, '--clean'], dir);
      expect(clean.code).toBe(0);
      expect(clean.stderr).toContain(`removed stale socket ${join(dir, 'gone.sock')}`);
      expect(clean.stderr).toContain(`removed stale socket ${join(dir, 'open.sock')}`);
      expect(existsSync(join(dir, 'gone.sock'))).toBe(false);
      expect(existsSync(join(dir, 'open.sock'))).toBe(false);
      expect(existsSync(join(dir, 'live.sock'))).toBe(true);
      expect(existsSync(join(dir, 'plain.sock'))).toBe(true);
    } finally {
      await server.stop();
    }
  });

  test('the liveness probe is never taken for a client: the queue waits for a real one', async () => {
    const server = new UnixSocketServer({ eventName: 'jobs', socketDir: dir, logLevel: 'silent' });
    const connected: string[] = [];
    server.on('clientConnected', (id) => connected.push(id));
    await server.start();
    const client = new UnixSocketClient({ eventName: 'jobs', socketDir: dir, logLevel: 'silent' });
    try {
      server.send({ n: 1 });
      for (let i = 0; i < 3; i++) expect((await runCli(['ls', '--socket-dir', dir], dir)).code).toBe(0);
      expect(connected).toEqual([]);
      await client.connect();
      expect((await client.receive({ timeout: 5000 })).data).toEqual({ n: 1 });
      expect(connected).toHaveLength(1);
    } finally {
      await client.disconnect();
      await server.stop();
    }
  });

  test(
    'a TCP address file shows as live while its server runs, stale after; --clean keeps it (a restart rebinds its ' +
      'port)',
    async () => {
      const server = new TcpSocketServer({ eventName: 'orders', socketDir: dir, logLevel: 'silent' });
      await server.start();
      const address = `127.0.0.1:${server.port}`;
      try {
        const rows = JSON.parse((await runCli(['ls', '--socket-dir', dir, '--json'], dir)).stdout) as Array<
          Record<string, unknown>
        >;
        expect(rows).toEqual([
          expect.objectContaining({
            event: 'orders',
            transport: 'tcp',
            address,
            state: 'live',
            mode: '0600',
            insecure: false,
          }),
        ]);
      } finally {
        await server.stop();
      }
      const after = JSON.parse((await runCli(['ls', '--socket-dir', dir, '--json', '--clean'], dir)).stdout) as Array<
        Record<string, unknown>
      >;
      expect(after).toEqual([expect.objectContaining({ event: 'orders', transport: 'tcp', state: 'stale' })]);
      expect(existsSync(join(dir, 'orders.tcp'))).toBe(true);
    },
  );

  test(
    'prints clients, queue and rates of live servers (table and --json); "stats off" / "token needed" where they ' +
      'cannot be read',
    async () => {
      const open = new UnixSocketServer({ eventName: 'jobs', socketDir: dir, logLevel: 'silent', messageQueueSize: 5 });
      const quiet = new UnixSocketServer({
        eventName: 'quiet',
        socketDir: dir,
        logLevel: 'silent',
        exposeStats: false,
      });
      const locked = new TcpSocketServer({
        eventName: 'locked',
        socketDir: dir,
        logLevel: 'silent',
        token: 'ls-token-0123456789abcdef',
      });
      await Promise.all([open.start(), quiet.start(), locked.start()]);
      const connected: string[] = [];
      open.on('clientConnected', (id) => connected.push(id));
      try {
        open.send({ q: 1 });
        open.send({ q: 2 });
        const rows = JSON.parse((await runCli(['ls', '--socket-dir', dir, '--json'], dir)).stdout) as Array<
          Record<string, unknown>
        >;
        expect(rows).toEqual([
          expect.objectContaining({
            event: 'jobs',
            state: 'live',
            stats: { clients: 0, maxConnections: 10, queue: 2, rates: expect.any(Object) },
          }),
          expect.objectContaining({
            event: 'locked',
            transport: 'tcp',
            state: 'live',
            statsUnavailable: 'token needed',
          }),
          expect.objectContaining({ event: 'quiet', state: 'live', statsUnavailable: 'stats off' }),
        ]);
        expect(Object.keys((rows[0]!.stats as { rates: object }).rates).sort()).toEqual([
          'bytesIn',
          'bytesOut',
          'messagesIn',
          'messagesOut',
        ]);
        const table = await runCli(['ls', '--socket-dir', dir], dir);
        expect(table.code).toBe(0);
        expect(table.stdout).toMatch(/\njobs\s+unix\s+live\s+0\/10\s+2\s+\d+\s+\d+\s+\d+\s+0600\s/);
        expect(table.stdout).toMatch(/\nlocked\s+tcp 127\.0\.0\.1:\d+\s+live\s+token needed\s+-\s+-\s+-\s/);
        expect(table.stdout).toMatch(/\nquiet\s+unix\s+live\s+stats off\s+-\s+-\s+-\s/);
        // Reading stats never took the queue.
        expect(connected).toEqual([]);
        expect(open.queuedMessages).toBe(2);
      } finally {
        await Promise.all([open.stop(), quiet.stop(), locked.stop()]);
      }
    },
  );

  test('an empty or missing directory says so and exits 0', async () => {
    const r = await runCli(['ls', '--socket-dir', join(dir, 'nope')], dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no events in');
  });

  test('usage errors exit 2', async () => {
    expect((await runCli(['ls', 'jobs'], dir)).code).toBe(2);
    expect((await runCli(['ls', '--socket-dir', ''], dir)).code).toBe(2);
  });

  test('an address file flagged insecure is never connected to (state "unchecked")', async () => {
    let connections = 0;
    const listener: Server = createServer((c) => {
      connections++;
      c.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (listener.address() as { port: number }).port;
      const planted = { event: 'planted', host: '127.0.0.1', port, pid: 1, tls: false, started_ms: 0 };
      const rec = `${JSON.stringify(planted)}\n`;
      writeFileSync(join(dir, 'planted.tcp'), rec, { mode: 0o666 });
      chmodSync(join(dir, 'planted.tcp'), 0o666);
      if (asRoot) {
        writeFileSync(join(dir, 'foreign.tcp'), rec.replace('planted', 'foreign'), { mode: 0o600 });
        chownSync(join(dir, 'foreign.tcp'), NOBODY, NOBODY);
      }
      const rows = JSON.parse((await runCli(['ls', '--socket-dir', dir, '--json'], dir)).stdout) as Array<
        Record<string, unknown>
      >;
      expect(rows).toEqual([
        ...(asRoot
          ? [expect.objectContaining({ event: 'foreign', transport: 'tcp', state: 'unchecked', insecure: true })]
          : []),
        expect.objectContaining({ event: 'planted', transport: 'tcp', state: 'unchecked', insecure: true }),
      ]);
      expect((await runCli(['ls', '--socket-dir', dir], dir)).stdout).toMatch(/planted\s+tcp\s+unchecked \(insecure\)/);
      expect(connections).toBe(0);
    } finally {
      await new Promise<void>((r) => listener.close(() => r()));
    }
  });

  (asRoot ? test : test.skip)(
    `--clean refuses a directory reached through another user's symlink: nothing removed, exit ` +
      `1${asRoot ? '' : ' [skipped: needs root to chown]'}`,
    () => {
      const real = join(dir, 'real');
      mkdirSync(real, { mode: 0o700 });
      staleSocket(join(real, 'gone.sock'));
      const link = linkInSharedDir();
      // The link is the other user's: it may point anywhere at any time.
      const r = spawnSync(
        process.execPath,
        ['-e', `require('fs').symlinkSync(${JSON.stringify(real)}, ${JSON.stringify(link)})`],
        {
          uid: NOBODY,
          gid: NOBODY,
        },
      );
      expect(r.status).toBe(0);
      return runCli(['ls', '--socket-dir', link, '--clean'], dir).then((clean) => {
        expect(clean.code).toBe(1);
        expect(clean.stderr).toContain('not cleaning');
        expect(clean.stderr).toContain(`owned by uid ${NOBODY}`);
        expect(existsSync(join(real, 'gone.sock'))).toBe(true);
      });
    },
  );

  (asRoot ? test : test.skip)(
    `--clean never deletes a live socket in root's 0700 directory while another user flips a symlink: 0 of 400 rounds${
      asRoot ? '' : ' [skipped: needs root to run a second user]'
    }`,
    async () => {
      const real = join(dir, 'real');
      mkdirSync(real, { mode: 0o700 });
      const live = createServer((c) => c.destroy());
      await new Promise<void>((r) => live.listen(join(real, 'live.sock'), () => r()));
      const evil = join(dir, 'evil');
      mkdirSync(evil, { mode: 0o755 });
      chownSync(evil, NOBODY, NOBODY);
      const link = linkInSharedDir();
      // The other user's stale socket of the same name, and a racer flipping the link between the two directories.
      const r = spawnSync(
        process.execPath,
        [
          '-e',
          `require('net').createServer().listen(${JSON.stringify(join(evil, 'live.sock'))}, () => ` +
            `process.kill(process.pid, 'SIGKILL'))`,
        ],
        {
          uid: NOBODY,
          gid: NOBODY,
        },
      );
      expect(r.signal).toBe('SIGKILL');
      const flipper: ChildProcess = spawn(
        process.execPath,
        [
          '-e',
          `const fs = require('fs'); const [link, a, b] = process.argv.slice(1); const tmp = link + '.flip';
           const parent = process.ppid, end = Date.now() + 60000;
           fs.symlinkSync(a, link); console.log('ready');
           for (let i = 0; ; i++) {
             try { fs.symlinkSync(i & 1 ? a : b, tmp); fs.renameSync(tmp, link); } catch {}
             if ((i & 1023) === 0 && (process.ppid !== parent || Date.now() > end)) process.exit(0);
           }`,
          link,
          real,
          evil,
        ],
        { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await once(flipper.stdout!, 'data');
      let deleted = 0;
      let refused = 0;
      const entry: LsEntry = {
        event: 'live',
        transport: 'unix',
        path: join(link, 'live.sock'),
        state: 'stale',
        uid: NOBODY,
        mode: '0755',
        insecure: true,
      };
      try {
        for (let round = 0; round < 400; round++) {
          await cleanSocketDir([entry]).catch(() => refused++);
          if (!existsSync(join(real, 'live.sock'))) {
            deleted++;
            await new Promise<void>((res) => live.close(() => res()));
            await new Promise<void>((res) => live.listen(join(real, 'live.sock'), () => res()));
          }
        }
      } finally {
        flipper.kill('SIGKILL');
        await new Promise<void>((res) => live.close(() => res()));
      }
      expect(lstatSync(evil).uid).toBe(NOBODY);
      expect({ deleted, refused }).toEqual({ deleted: 0, refused: 400 });
    },
    60_000,
  );
});

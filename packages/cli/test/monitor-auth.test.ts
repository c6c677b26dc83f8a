// Monitors of token servers and of full servers, over real sockets (issue 17).
import { describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchStats, type ServerStats } from 'socketkit';
import { TcpClientTransport, TcpSocketClient, TcpSocketServer } from '@socketkit/tcp';
import { UnixClientTransport, UnixSocketClient, UnixSocketServer } from '@socketkit/unix';
import { runCli, useTestDir } from './helpers.js';

const TOKEN = 'monitor-token-0123456789abcdef';
const WRONG = 'another-token-0123456789abcdef';

let dir = '';
let tokenFile = '';
let wrongFile = '';
useTestDir('sk-mon-', (d) => {
  dir = d;
  tokenFile = join(dir, 'token');
  wrongFile = join(dir, 'wrong');
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  writeFileSync(wrongFile, `${WRONG}\n`, { mode: 0o600 });
});

/**
 * A token tcp server for "orders" holding one queued message: runs `body`
 * (which plays monitors against it), then checks that no monitor registered
 * or took the queue: the first real client gets the queued message.
 */
async function withQueuedTokenServer(body: (server: TcpSocketServer) => Promise<void>): Promise<void> {
  const server = new TcpSocketServer({ eventName: 'orders', socketDir: dir, token: TOKEN, logLevel: 'silent' });
  const connected: string[] = [];
  server.on('clientConnected', (id) => connected.push(id));
  await server.start();
  const client = new TcpSocketClient({ eventName: 'orders', socketDir: dir, token: TOKEN, logLevel: 'silent' });
  try {
    server.send({ queued: 1 });
    await body(server);
    expect(connected).toEqual([]);
    expect(server.getConnectedClients()).toEqual([]);
    expect(server.stats().queue.length).toBe(1);
    await client.connect();
    expect((await client.receive({ timeout: 5000 })).data).toEqual({ queued: 1 });
    expect(connected).toHaveLength(1);
  } finally {
    await client.disconnect();
    await server.stop();
  }
}

describe('monitors of a token server', () => {
  test(
    'socketkit stats --transport tcp --token-file reads a token tcp server; a proven monitor never takes the ' +
      'queue',
    async () => {
      await withQueuedTokenServer(async (server) => {
        const r = await runCli(
          ['stats', 'orders', '--transport', 'tcp', '--socket-dir', dir, '--token-file', tokenFile, '--json'],
          dir,
        );
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const s = JSON.parse(r.stdout) as ServerStats;
        expect(s.event).toBe('orders');
        expect(s.queue.length).toBe(1);
        expect(s.clients).toEqual([]);

        const text = await runCli(
          ['stats', 'orders', '--transport', 'tcp', '--port', String(server.port), '--token-file', tokenFile],
          dir,
        );
        expect(text.code).toBe(0);
        expect(text.stdout).toMatch(/^event orders {2}protocol \d+/);

        // In code: fetchStats with the token.
        const again = await fetchStats(new TcpClientTransport('127.0.0.1', server.port as number, 'orders'), 'orders', {
          token: TOKEN,
        });
        expect(again.queue.length).toBe(1);
      });
    },
  );

  test('a monitor with a wrong token, or none, gets UNAUTHORIZED and the queue is untouched', async () => {
    await withQueuedTokenServer(async (server) => {
      const transport = new TcpClientTransport('127.0.0.1', server.port as number, 'orders');
      await expect(fetchStats(transport, 'orders', { token: WRONG })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
      await expect(fetchStats(transport, 'orders')).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
        message: expect.stringContaining('token'),
      });

      const wrong = await runCli(
        ['stats', 'orders', '--transport', 'tcp', '--socket-dir', dir, '--token-file', wrongFile],
        dir,
      );
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/^error UNAUTHORIZED: /);
      const none = await runCli(['stats', 'orders', '--transport', 'tcp', '--socket-dir', dir], dir);
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^error UNAUTHORIZED: .*--token-file/);
    });
  });

  test('a monitor with a token refuses a server that cannot prove it (no token there)', async () => {
    const server = new UnixSocketServer({ eventName: 'plain', socketDir: dir, logLevel: 'silent' });
    await server.start();
    try {
      await expect(fetchStats(new UnixClientTransport(dir, 'plain'), 'plain', { token: TOKEN })).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
      });
      // Without a token the same server answers.
      expect((await fetchStats(new UnixClientTransport(dir, 'plain'), 'plain')).event).toBe('plain');
    } finally {
      await server.stop();
    }
  });

  test('unix with a token: socketkit stats, ls and top take --token-file', async () => {
    const server = new UnixSocketServer({ eventName: 'jobs', socketDir: dir, token: TOKEN, logLevel: 'silent' });
    const connected: string[] = [];
    server.on('clientConnected', (id) => connected.push(id));
    await server.start();
    const client = new UnixSocketClient({ eventName: 'jobs', socketDir: dir, token: TOKEN, logLevel: 'silent' });
    try {
      await client.connect({ waitForWelcome: true });
      const r = await runCli(['stats', 'jobs', '--socket-dir', dir, '--token-file', tokenFile, '--json'], dir);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as ServerStats).clients).toHaveLength(1);
      const top = await runCli(['top', '--socket-dir', dir, '--count', '1', '--token-file', tokenFile], dir);
      expect(top.stdout.trim().split('\n')[1]).toMatch(/^jobs\s+live\s+1\/10\s+0\s/);
      const ls = JSON.parse(
        (await runCli(['ls', '--socket-dir', dir, '--json', '--token-file', tokenFile], dir)).stdout,
      ) as Array<Record<string, unknown>>;
      expect(ls).toEqual([
        expect.objectContaining({ event: 'jobs', state: 'live', stats: expect.objectContaining({ clients: 1 }) }),
      ]);
      expect(connected).toHaveLength(1);
    } finally {
      await client.disconnect();
      await server.stop();
    }
  });
});

describe('monitors of a full server', () => {
  test('a full unix server (no token) still answers a monitor; a client is still refused MAX_CONNECTIONS', async () => {
    const server = new UnixSocketServer({ eventName: 'full', socketDir: dir, maxConnections: 1, logLevel: 'silent' });
    await server.start();
    const a = new UnixSocketClient({ eventName: 'full', socketDir: dir, logLevel: 'silent', autoReconnect: false });
    const b = new UnixSocketClient({ eventName: 'full', socketDir: dir, logLevel: 'silent', autoReconnect: false });
    b.on('error', () => undefined);
    try {
      await a.connect({ waitForWelcome: true });
      const r = await runCli(['stats', 'full', '--socket-dir', dir, '--json'], dir);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as ServerStats).clients).toHaveLength(1);
      await expect(b.connect({ waitForWelcome: true, timeout: 5000 })).rejects.toMatchObject({
        code: 'MAX_CONNECTIONS',
      });
      expect(server.getConnectedClients()).toHaveLength(1);
      expect(server.stats().refused).toEqual({ MAX_CONNECTIONS: 1 });
    } finally {
      await a.disconnect();
      await b.disconnect();
      await server.stop();
    }
  });
});

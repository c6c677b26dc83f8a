import { describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { UnixSocketClient, UnixSocketServer } from '@socketkit/unix';
import { cli, runCli, useTestDir } from './helpers.js';

let dir = '';
useTestDir('sk-stats-', (d) => {
  dir = d;
});

function httpGet(url: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { headers: { authorization: 'Bearer a-metrics-token-of-32-bytes-1234' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

describe('socketkit stats and top', () => {
  test('stats --json reports a live server as a monitor that is never taken for a client', async () => {
    const server = new UnixSocketServer({ eventName: 'jobs', socketDir: dir, logLevel: 'silent' });
    const connected: string[] = [];
    server.on('clientConnected', (id) => connected.push(id));
    await server.start();
    const client = new UnixSocketClient({ eventName: 'jobs', socketDir: dir, logLevel: 'silent' });
    try {
      await client.connect({ waitForWelcome: true });
      await client.send({ n: 1 });
      await client.send({ n: 2 });
      server.send({ b: 1 });
      await client.receive({ timeout: 5000 });
      const r = await runCli(['stats', 'jobs', '--socket-dir', dir, '--json'], dir);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const s = JSON.parse(r.stdout) as {
        event: string;
        clients: Array<{ messagesIn: number; messagesOut: number }>;
        maxConnections: number;
      };
      expect(s.event).toBe('jobs');
      expect(s.clients).toHaveLength(1);
      expect(s.clients[0]!.messagesIn).toBeGreaterThanOrEqual(2);
      expect(s.clients[0]!.messagesOut).toBeGreaterThanOrEqual(2); // welcome + broadcast
      expect(s.maxConnections).toBe(10);
      expect(connected).toHaveLength(1);
      expect(server.getConnectedClients()).toHaveLength(1);

      const text = await runCli(['stats', 'jobs', '--socket-dir', dir], dir);
      expect(text.stdout).toMatch(/^event jobs {2}protocol \d+ {2}up [\d.]+ s {2}clients 1\/10/);

      const table = await runCli(['top', '--socket-dir', dir, '--count', '1'], dir);
      expect(table.code).toBe(0);
      const lines = table.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^EVENT\s+STATE\s+CLIENTS\s+QUEUE\s+IN\/s\s+OUT\/s\s+PENDING\s+DROPS$/);
      expect(lines[1]).toMatch(/^jobs\s+live\s+1\/10\s+0\s/);
    } finally {
      await client.disconnect();
      await server.stop();
    }
  });

  test('a server that does not expose stats answers STATS_DISABLED (exit 1)', async () => {
    const server = new UnixSocketServer({ eventName: 'quiet', socketDir: dir, logLevel: 'silent', exposeStats: false });
    await server.start();
    try {
      const r = await runCli(['stats', 'quiet', '--socket-dir', dir], dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error STATS_DISABLED: /);
      const t = await runCli(['top', '--socket-dir', dir, '--count', '1'], dir);
      expect(t.stdout).toMatch(/quiet\s+live \(STATS_DISABLED\)/);
    } finally {
      await server.stop();
    }
  });

  test('serve --metrics-port (with its bearer token) exposes Prometheus text that a real parser reads', async () => {
    const tokenFile = join(dir, 'metrics.token');
    writeFileSync(tokenFile, 'a-metrics-token-of-32-bytes-1234\n', { mode: 0o600 });
    const serve = cli(
      ['serve', 'metered', '--socket-dir', dir, '--metrics-port', '0', '--metrics-token-file', tokenFile],
      dir,
    );
    const port = (await serve.waitFor('stderr', /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/))[1] as string;
    const client = new UnixSocketClient({ eventName: 'metered', socketDir: dir, logLevel: 'silent' });
    try {
      await client.connect({ waitForWelcome: true });
      await client.send({ hi: 1 });
      await serve.waitFor('stdout', /"hi":1/);
      const res = await httpGet(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.type).toContain('text/plain; version=0.0.4');
      const families = parsePrometheusTextFormat(res.body);
      const value = (name: string) => families.find((f) => f.name === name)?.metrics[0];
      expect(value('socketkit_clients')).toEqual({ labels: { event: 'metered' }, value: '1' });
      expect(Number(value('socketkit_messages_received_total')?.value)).toBeGreaterThanOrEqual(2);
      expect((await httpGet(`http://127.0.0.1:${port}/other`)).status).toBe(404);
    } finally {
      await client.disconnect();
      serve.child.kill('SIGINT');
      expect(await serve.exited).toBe(0);
    }
  });

  test('usage errors exit 2', async () => {
    expect((await runCli(['stats'], dir)).code).toBe(2);
    expect((await runCli(['stats', 'bad name'], dir)).code).toBe(2);
    expect((await runCli(['top', 'x'], dir)).code).toBe(2);
    expect((await runCli(['top', '--interval', '1'], dir)).code).toBe(2);
  });
});

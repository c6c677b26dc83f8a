// `serve --metrics-port` exposes no more than monitors do (issue 22 item 14): loopback HTTP needs a
// bearer token (--metrics-token-file), or metrics go on a unix socket of mode 0600 (--metrics-socket).
import { afterEach, beforeEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get, type RequestOptions } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { cli, runCli, useTestDir } from './helpers.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const asRoot = isRoot ? test : test.skip;
const rootName = (name: string): string =>
  isRoot ? name : `${name} [skipped: needs root to run a request as uid ${NOBODY}]`;
const TOKEN = 'metrics-token-of-32-bytes-123456';

let dir = '';
useTestDir('sk-metrics-', (d) => {
  dir = d;
});
/** A directory every user may enter (the test dir is 0700), for the sockets another user tries to reach. */
let open = '';
beforeEach(() => {
  open = mkdtempSync(join(tmpdir(), 'sk-metrics-open-'));
  chmodSync(open, 0o755);
});
afterEach(() => rmSync(open, { recursive: true, force: true }));

/** One HTTP GET from this process: status and body. */
function httpGet(options: RequestOptions): Promise<{ status: number; body: string; auth: string | undefined }> {
  return new Promise((resolve, reject) => {
    get(options, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => (body += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, auth: res.headers['www-authenticate'] }));
    }).on('error', reject);
  });
}

/**
 * One HTTP GET made by another local user (uid 65534) with node:http: prints the status and
 * whether the body held socketkit metrics, or the error code.
 */
function getAsNobody(options: RequestOptions): Promise<string> {
  const script = `const http = require('node:http');
http.get(${JSON.stringify(options)}, (res) => {
  let b = '';
  res.on('data', (c) => (b += c));
  res.on('end', () => console.log(res.statusCode + (b.includes('socketkit_clients') ? ' metrics' : '')));
})
  .on('error', (e) => console.log(e.code));`;
  const child = spawn(process.execPath, ['-e', script], {
    uid: NOBODY,
    gid: NOBODY,
    cwd: '/',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  return new Promise((resolve) => child.on('close', () => resolve(out.trim())));
}

let tokens = 0;
/** A new token file of mode 0600 holding `text`. */
function tokenFile(text = `${TOKEN}\n`): string {
  const file = join(dir, `metrics-${tokens++}.token`);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

describe('serve --metrics-port / --metrics-socket', () => {
  test('--metrics-port without a token is a usage error that says what to add', async () => {
    const r = await runCli(['serve', 'jobs', '--socket-dir', dir, '--metrics-port', '0'], dir);
    expect(r.code).toBe(2); // before the fix: the server started and served /metrics to anyone
    expect(r.stderr).toContain('--metrics-token-file');
    expect(r.stderr).toContain('--metrics-socket');
  });

  asRoot(
    rootName(
      'with --metrics-token-file, another local user gets 401 without the token, 401 with a wrong one; the scraper ' +
        'gets the metrics',
    ),
    async () => {
      const serve = cli(
        ['serve', 'metered', '--socket-dir', dir, '--metrics-port', '0', '--metrics-token-file', tokenFile()],
        dir,
      );
      const port = Number((await serve.waitFor('stderr', /metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/))[1]);
      try {
        expect(await getAsNobody({ host: '127.0.0.1', port, path: '/metrics' })).toBe('401');
        expect(
          await getAsNobody({
            host: '127.0.0.1',
            port,
            path: '/metrics',
            headers: { authorization: 'Bearer wrong-token-of-32-bytes-1234567' },
          }),
        ).toBe('401');
        const none = await httpGet({ host: '127.0.0.1', port, path: '/metrics' });
        expect(none.status).toBe(401);
        expect(none.auth).toBe('Bearer realm="socketkit metrics"');
        expect(none.body).not.toContain('socketkit_');
        expect(
          (await httpGet({ host: '127.0.0.1', port, path: '/metrics', headers: { authorization: `Basic ${TOKEN}` } }))
            .status,
        ).toBe(401);
        expect(
          (await httpGet({ host: '127.0.0.1', port, path: '/metrics', headers: { authorization: `Bearer ${TOKEN}x` } }))
            .status,
        ).toBe(401);
        const ok = await httpGet({
          host: '127.0.0.1',
          port,
          path: '/metrics',
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        expect(ok.status).toBe(200);
        const families = parsePrometheusTextFormat(ok.body);
        expect(families.find((f) => f.name === 'socketkit_clients')?.metrics[0]).toEqual({
          labels: { event: 'metered' },
          value: '0',
        });
        expect(
          await getAsNobody({
            host: '127.0.0.1',
            port,
            path: '/metrics',
            headers: { authorization: `Bearer ${TOKEN}` },
          }),
        ).toBe('200 metrics');
        // Unknown paths need the token too (nothing is said without it).
        expect((await httpGet({ host: '127.0.0.1', port, path: '/other' })).status).toBe(401);
        expect(
          (await httpGet({ host: '127.0.0.1', port, path: '/other', headers: { authorization: `Bearer ${TOKEN}` } }))
            .status,
        ).toBe(404);
      } finally {
        serve.child.kill('SIGINT');
        expect(await serve.exited).toBe(0);
      }
    },
  );

  asRoot(
    rootName('--metrics-socket serves on a unix socket of mode 0600: the owner scrapes it, another user gets EACCES'),
    async () => {
      const path = join(open, 'metrics.sock');
      const serve = cli(['serve', 'metered', '--socket-dir', dir, '--metrics-socket', path], dir);
      await serve.waitFor('stderr', /metrics on unix:.*metrics\.sock/);
      try {
        expect(statSync(path).mode & 0o777).toBe(0o600);
        const ok = await httpGet({ socketPath: path, path: '/metrics' });
        expect(ok.status).toBe(200);
        expect(parsePrometheusTextFormat(ok.body).some((f) => f.name === 'socketkit_messages_received_total')).toBe(
          true,
        );
        expect(await getAsNobody({ socketPath: path, path: '/metrics' })).toBe('EACCES');
      } finally {
        serve.child.kill('SIGTERM');
        expect(await serve.exited).toBe(0);
      }
    },
  );

  test(
    '--metrics-socket on a path that exists is ADDRESS_IN_USE (exit 1) and the file is left alone; the socket is ' +
      'removed on stop',
    async () => {
      const taken = join(dir, 'taken.sock');
      writeFileSync(taken, "someone else's");
      const r = await runCli(['serve', 'jobs', '--socket-dir', dir, '--metrics-socket', taken], dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^error ADDRESS_IN_USE: cannot serve metrics on .*taken\.sock: .*remove the file if no process serves it/m,
      );
      expect(readFileSync(taken, 'utf8')).toBe("someone else's");
      const path = join(dir, 'metrics.sock');
      const serve = cli(['serve', 'jobs', '--socket-dir', dir, '--metrics-socket', path], dir);
      await serve.waitFor('stderr', /metrics on unix:/);
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
      expect(existsSync(path)).toBe(false);
      expect(existsSync(join(dir, 'jobs.sock'))).toBe(false);
    },
  );

  test('a metrics token file others can write, or one shorter than 16 bytes, is refused', async () => {
    const file = tokenFile();
    chmodSync(file, 0o666);
    const writable = await runCli(
      ['serve', 'jobs', '--socket-dir', dir, '--metrics-port', '0', '--metrics-token-file', file],
      dir,
    );
    expect(writable.code).toBe(1);
    expect(writable.stderr).toMatch(
      /^error INVALID_CONFIG: refusing to read token file .*\(named by --metrics-token-file\).*mode 0666/m,
    );
    const short = await runCli(
      ['serve', 'jobs', '--socket-dir', dir, '--metrics-port', '0', '--metrics-token-file', tokenFile('short\n')],
      dir,
    );
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^error INVALID_CONFIG: .*--metrics-token-file .* 16 bytes/m);
  });

  asRoot(rootName('a metrics token file another user owns is refused'), async () => {
    const file = tokenFile();
    chownSync(file, NOBODY, NOBODY);
    const r = await runCli(
      ['serve', 'jobs', '--socket-dir', dir, '--metrics-port', '0', '--metrics-token-file', file],
      dir,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`owned by uid ${NOBODY}`);
  });

  test('--metrics-token-file and --metrics-socket are checked as options', async () => {
    expect((await runCli(['serve', 'jobs', '--metrics-token-file', tokenFile()], dir)).stderr).toContain(
      '--metrics-token-file applies to --metrics-port',
    );
    expect((await runCli(['serve', 'jobs', '--metrics-socket', ''], dir)).code).toBe(2);
  });
});

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { cli, ensureBuilt, jsonLines, killAll, runCli } from './helpers.js';

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let dir: string;
beforeAll(ensureBuilt);
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'skcli-'));
});
afterEach(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** A throwaway CA and a server certificate for 127.0.0.1, made for this test only. */
function pki(): { ca: string; cert: string; key: string } {
  const run = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=cli test ca');
  run('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=cli test server');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  run(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '1',
    '-out',
    'server.crt',
    '-extfile',
    'server.ext',
  );
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

(hasOpenssl ? describe : describe.skip)('CLI: TLS, token file and the TCP address file', () => {
  test(
    'serve over TLS with a token and no port; request finds the port in the address file, verifies the CA and ' +
      'proves the token',
    async () => {
      const { ca, cert, key } = pki();
      const tokenFile = join(dir, 'token');
      writeFileSync(tokenFile, 'cli-token-0123456789abcdef\n', { mode: 0o600 });
      const sockets = join(dir, 'sockets');
      const serve = cli(
        [
          'serve',
          'secure',
          '--transport',
          'tcp',
          '--socket-dir',
          sockets,
          '--tls-cert',
          cert,
          '--tls-key',
          key,
          '--token-file',
          tokenFile,
          '--echo',
        ],
        dir,
      );
      await serve.waitFor('stderr', /listening on \S+/);
      expect(existsSync(join(sockets, 'secure.tcp'))).toBe(true);
      const common = ['secure', '--transport', 'tcp', '--socket-dir', sockets];
      const ok = await runCli(
        ['request', ...common, '--tls-ca', ca, '--token-file', tokenFile, '--data', '{"n": 1}'],
        dir,
      );
      expect(ok.stderr).toBe('');
      expect(ok.code).toBe(0);
      expect(jsonLines(ok.stdout)[0]?.data).toEqual({ echo: { n: 1 } });
      // a CA that did not sign the server's certificate (here: the server certificate itself)
      const wrongCa = await runCli(
        ['request', ...common, '--tls-ca', cert, '--token-file', tokenFile, '--data', '{}'],
        dir,
      );
      expect(wrongCa.code).toBe(1);
      expect(wrongCa.stderr).toContain('UNAUTHORIZED');
      const plain = await runCli(['request', ...common, '--token-file', tokenFile, '--data', '{}'], dir);
      expect(plain.code).toBe(1);
      writeFileSync(join(dir, 'wrong'), 'another-token-0123456789\n');
      const wrongToken = await runCli(
        ['request', ...common, '--tls-ca', ca, '--token-file', join(dir, 'wrong'), '--data', '{}'],
        dir,
      );
      expect(wrongToken.code).toBe(1);
      expect(wrongToken.stderr).toContain('UNAUTHORIZED');
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
    },
  );

  test('serve on a non-loopback host without token or TLS is refused (INSECURE_BIND) unless --allow-insecure', async () => {
    const r = await runCli(['serve', 'open', '--transport', 'tcp', '--host', '0.0.0.0', '--port', '0'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('INSECURE_BIND');
    const allowed = cli(
      ['serve', 'open', '--transport', 'tcp', '--host', '0.0.0.0', '--port', '0', '--allow-insecure'],
      dir,
    );
    await allowed.waitFor('stderr', /listening on \S+/);
    allowed.child.kill('SIGTERM');
    expect(await allowed.exited).toBe(0);
  });
});

// The CLI does not trust files other users wrote (issue 22 item 10): ./.env, --token-file and the
// settings file are read only when the invoking user (or root) owns them and group and others
// cannot write them; otherwise the command refuses with INVALID_CONFIG naming the file.
import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, runCli, useTestDir } from './helpers.js';

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
/** Tests that need a second local user run as root; elsewhere they are skipped with the reason in the name. */
const asRoot = isRoot ? test : test.skip;
const rootName = (name: string): string =>
  isRoot ? name : `${name} [skipped: needs root to chown a file to uid ${NOBODY}]`;

let dir = '';
useTestDir('sk-trust-', (d) => {
  dir = d;
});

/** A shared working directory (like /tmp: sticky, everyone may create files) with a private socket dir beside it. */
function sharedCwd(): { cwd: string; sockets: string } {
  const cwd = join(dir, 'shared');
  mkdirSync(cwd);
  chmodSync(cwd, 0o1777);
  const sockets = join(dir, 'sockets');
  mkdirSync(sockets, { mode: 0o700 });
  return { cwd, sockets };
}

/**
 * Runs `serve` and resolves with what happened: the exit (code and stderr) when it refused, or
 * the mode of the socket it created when it started (then it is stopped).
 */
async function serveOutcome(
  args: string[],
  cwd: string,
  socket: string,
): Promise<{ code: number | null; stderr: string; socketMode?: string }> {
  const p = cli(args, cwd);
  const started = await Promise.race([
    p.exited.then(() => false),
    p.waitFor('stderr', /listening on /).then(() => true),
  ]);
  if (!started) return { code: await p.exited, stderr: p.stderr() };
  const socketMode = existsSync(socket) ? (statSync(socket).mode & 0o777).toString(8) : 'missing';
  p.child.kill('SIGTERM');
  return { code: await p.exited, stderr: p.stderr(), socketMode };
}

const ATTACK = (sockets: string): string => `SOCKET_DIR=${sockets}\nSOCKET_UNIX_SOCKET_PERMISSIONS=0666\n`;

describe('./.env, --token-file and settings files written by another user are refused', () => {
  asRoot(
    rootName('a ./.env another user planted in a shared working directory is refused: no 0666 socket'),
    async () => {
      const { cwd, sockets } = sharedCwd();
      const env = join(cwd, '.env');
      writeFileSync(env, ATTACK(sockets), { mode: 0o644 });
      chownSync(env, NOBODY, NOBODY);
      const r = await serveOutcome(['serve', 'jobs'], cwd, join(sockets, 'jobs.sock'));
      expect(r.socketMode).toBeUndefined(); // before the fix: '666' (the planted .env took effect)
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error INVALID_CONFIG: refusing to read env file /m);
      expect(r.stderr).toContain(env);
      expect(r.stderr).toContain(`owned by uid ${NOBODY}`);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    },
  );

  test('a ./.env that group or others can write (mode 0666) is refused, even when it is yours', async () => {
    const { cwd, sockets } = sharedCwd();
    const env = join(cwd, '.env');
    writeFileSync(env, ATTACK(sockets));
    chmodSync(env, 0o666);
    const r = await serveOutcome(['serve', 'jobs'], cwd, join(sockets, 'jobs.sock'));
    expect(r.socketMode).toBeUndefined(); // before the fix: '666'
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing to read env file ${env}`);
    expect(r.stderr).toContain('mode 0666');
    expect(r.stderr).toContain(`chmod go-w ${env}`);
  });

  test('your own ./.env of mode 0644 is read (the control case)', async () => {
    const { cwd, sockets } = sharedCwd();
    writeFileSync(join(cwd, '.env'), ATTACK(sockets), { mode: 0o644 });
    chmodSync(join(cwd, '.env'), 0o644);
    const r = await serveOutcome(['serve', 'jobs'], cwd, join(sockets, 'jobs.sock'));
    expect(r.socketMode).toBe('666');
    expect(r.code).toBe(0);
  });

  test('a FIFO named .env is refused at once (not a regular file), without waiting for a writer', async () => {
    const { cwd } = sharedCwd();
    execFileSync('mkfifo', ['-m', '0600', join(cwd, '.env')]);
    const r = await runCli(['listen', 'jobs', '--count', '1'], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error INVALID_CONFIG: refusing to read env file .*: it is not a regular file/m);
  });

  asRoot(rootName('a --token-file owned by another user, or writable by others, is refused'), async () => {
    const token = join(dir, 'token');
    writeFileSync(token, 'a-token-of-at-least-16-bytes\n', { mode: 0o600 });
    chownSync(token, NOBODY, NOBODY);
    const owned = await runCli(['listen', 'jobs', '--socket-dir', dir, '--token-file', token, '--count', '1'], dir);
    expect(owned.code).toBe(1); // before the fix: exit 1 too, but SOCKET_NOT_FOUND: the token had been read and used
    expect(owned.stderr).toMatch(/^error INVALID_CONFIG: refusing to read token file /m);
    expect(owned.stderr).toContain(`owned by uid ${NOBODY}`);
    chownSync(token, 0, 0);
    chmodSync(token, 0o622);
    const writable = await runCli(['stats', 'jobs', '--socket-dir', dir, '--token-file', token], dir);
    expect(writable.code).toBe(1);
    expect(writable.stderr).toMatch(/^error INVALID_CONFIG: refusing to read token file .*mode 0622/m);
  });

  asRoot(rootName('a settings file another user owns, named in your .env, is refused'), async () => {
    const { cwd, sockets } = sharedCwd();
    const settings = join(dir, 'settings.toml');
    writeFileSync(settings, `[socket]\nsocket_dir = "${sockets}"\n[socket.unix]\nsocket_permissions = 0o666\n`, {
      mode: 0o644,
    });
    chownSync(settings, NOBODY, NOBODY);
    writeFileSync(join(cwd, '.env'), `SOCKET_SETTINGS_FILE=${settings}\n`, { mode: 0o644 });
    const r = await serveOutcome(['serve', 'jobs'], cwd, join(sockets, 'jobs.sock'));
    expect(r.socketMode).toBeUndefined(); // before the fix: '666'
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`refusing to read settings file ${settings}`);
  });
});

import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, MAX_TRUSTED_FILE_BYTES, readTrustedFile } from '../src/index.js';
import { configError, useTempDir } from './helpers.js';

// Files that decide how socketkit runs are read only if no other user could have written them (issue 22 item 10).
const temp = useTempDir('trusted');
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
const asRoot = isRoot ? it : it.skip;
const rootName = (name: string): string =>
  isRoot ? name : `${name} [skipped: needs root to chown a file to uid ${NOBODY}]`;
const quiet = { env: {}, onWarning: () => undefined } as const;

describe('readTrustedFile and the files loadConfig reads', () => {
  it('reads your own file of mode 0600 or 0644', () => {
    const file = temp.write('own', 'env', 'SOCKET_BUFFER_SIZE=64\n');
    chmodSync(file, 0o644);
    expect(readTrustedFile(file, 'env file')).toBe('SOCKET_BUFFER_SIZE=64\n');
    expect(loadConfig({}, { ...quiet, envFile: file }).bufferSize).toBe(64);
  });

  it('refuses a file group or others can write (0620, 0602), naming file, mode and the fix', () => {
    for (const mode of [0o620, 0o602, 0o666]) {
      const file = temp.write('writable', 'env', 'SOCKET_BUFFER_SIZE=64\n');
      chmodSync(file, mode);
      const err = configError(() => loadConfig({}, { ...quiet, envFile: file }));
      expect(err.message).toBe(
        `refusing to read env file ${file} (named by option): group or others can write it (mode ` +
          `0${mode.toString(8)}), ` +
          `so another user may have changed it: check its contents, then chmod go-w ${file}`,
      );
      expect(err.details).toMatchObject({ path: file, mode: `0${mode.toString(8)}` });
    }
  });

  asRoot(
    rootName('refuses a file another user owns, also as the settings file, and one reached through a symlink'),
    () => {
      const file = temp.write('theirs', 'toml', '[socket]\nbuffer_size = 64\n');
      chmodSync(file, 0o644);
      chownSync(file, NOBODY, NOBODY);
      const err = configError(() => loadConfig({}, { ...quiet, envFile: false, settingsFile: file }));
      expect(err.message).toMatch(
        new RegExp(
          `^refusing to read settings file ${file} \\(named by option\\): it is owned by uid ${NOBODY}, not by you ` +
            `\\(uid 0\\) or root`,
        ),
      );
      expect(err.details).toMatchObject({ owner: NOBODY, uid: 0 });
      const link = path.join(temp.dir(), 'link.toml');
      symlinkSync(file, link);
      expect(configError(() => readTrustedFile(link, 'settings file')).message).toContain(`owned by uid ${NOBODY}`);
      // Named by the variable: the message says so.
      const viaEnv = configError(() => loadConfig({}, { env: { SOCKET_SETTINGS_FILE: file }, envFile: false }));
      expect(viaEnv.message).toContain(`${file} (named by SOCKET_SETTINGS_FILE)`);
    },
  );

  it('refuses a directory and a file over the size bound', () => {
    const d = path.join(temp.dir(), 'a-dir');
    mkdirSync(d, { mode: 0o700 });
    expect(configError(() => readTrustedFile(d, 'env file')).message).toBe(
      `refusing to read env file ${d}: it is not a regular file: name a regular file`,
    );
    const big = temp.write('big', 'env', 'x'.repeat(MAX_TRUSTED_FILE_BYTES + 1));
    chmodSync(big, 0o600);
    expect(configError(() => readTrustedFile(big, 'env file')).message).toContain('more than 1048576');
  });

  it('a missing file is INVALID_CONFIG naming the file and who named it', () => {
    const missing = path.join(temp.dir(), 'missing.env');
    writeFileSync(path.join(temp.dir(), 'unrelated'), '');
    expect(configError(() => loadConfig({}, { env: { SOCKET_ENV_FILE: missing } })).message).toMatch(
      new RegExp(`^cannot read env file ${missing} \\(named by SOCKET_ENV_FILE\\): ENOENT`),
    );
  });
});

/**
 * Another user (uid 65534) swaps the path as fast as it can in a directory everyone may write
 * (0777, not sticky): root's own `.env` and the attacker's file take turns at `.env`, moved with
 * atomic renames. The file is checked on the descriptor it is read from, so a round reads root's
 * file, or refuses the attacker's, or finds nothing: never the attacker's values.
 */
const SWAPPER = `
const fs = require('node:fs');
const until = Date.now() + 20000;
fs.renameSync('.env', 'good');
let swaps = 0;
while (Date.now() < until && !fs.existsSync('stop')) {
  for (const [from, to] of [['good', '.env'], ['.env', 'good'], ['evil', '.env'], ['.env', 'evil']]) {
    try { fs.renameSync(from, to); } catch {}
  }
  swaps++;
}
console.log(swaps);
`;

describe('a racing local user', () => {
  asRoot(
    rootName(
      'swapping ./.env between your file and theirs in a shared directory never gets their values read (400 rounds)',
    ),
    async () => {
      const shared = mkdtempSync(path.join(os.tmpdir(), 'socketkit-trusted-race-'));
      chmodSync(shared, 0o777);
      const env = path.join(shared, '.env');
      writeFileSync(env, 'SOCKET_BUFFER_SIZE=64\n', { mode: 0o644 });
      const evil = path.join(shared, 'evil');
      writeFileSync(evil, 'SOCKET_BUFFER_SIZE=666\n', { mode: 0o644 });
      chownSync(evil, NOBODY, NOBODY);
      const swapper = spawn(process.execPath, ['-e', SWAPPER], {
        cwd: shared,
        uid: NOBODY,
        gid: NOBODY,
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let swaps = '';
      swapper.stdout.setEncoding('utf8').on('data', (t: string) => (swaps += t));
      const exited = new Promise((resolve) => swapper.once('exit', resolve));
      const seen = { ours: 0, theirs: 0, refused: 0, missing: 0 };
      try {
        // Wait until the swapper has moved root's file aside (its first step).
        for (let i = 0; i < 2000 && existsSync(env) && !existsSync(path.join(shared, 'good')); i++)
          await new Promise((r) => setTimeout(r, 1));
        for (let round = 0; round < 400; round++) {
          try {
            const size = loadConfig({}, { ...quiet, envFile: env }).bufferSize;
            if (size === 64) seen.ours++;
            else seen.theirs++;
          } catch (err) {
            const text = (err as Error).message;
            if (text.includes(`owned by uid ${NOBODY}`)) seen.refused++;
            else if (text.includes('ENOENT')) seen.missing++;
            else throw err;
          }
          if (round % 50 === 0) await new Promise((r) => setImmediate(r));
        }
      } finally {
        writeFileSync(path.join(shared, 'stop'), '');
        await exited;
        rmSync(shared, { recursive: true, force: true });
      }
      expect(Number(swaps)).toBeGreaterThan(0);
      expect(seen.theirs).toBe(0);
      expect(seen.ours + seen.refused + seen.missing).toBe(400);
    },
    30000,
  );
});

import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, killAll, runCli } from './helpers.js';

// The CLI, unlike the library, reads ./.env by default (issue 15 item 4; said in --help).
let cwd: string;
beforeAll(() => {
  ensureBuilt();
  cwd = mkdtempSync(join(tmpdir(), 'sk-dotenv-'));
  writeFileSync(join(cwd, '.env'), 'SOCKET_DIR=relative/sockets\n');
});
afterEach(killAll);
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('./.env', () => {
  test('is read by the CLI: a bad value there exits 1 with INVALID_CONFIG naming key and source', async () => {
    const r = await runCli(['listen', 'jobs', '--count', '1'], cwd);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('INVALID_CONFIG');
    expect(r.stderr).toContain(`SOCKET_DIR="relative/sockets" (.env ${join(cwd, '.env')})`);
  });
});

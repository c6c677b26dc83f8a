import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { UnixSocketClient, UnixSocketServer } from '../src/index.js';

// The library reads a .env file only when asked (issue 15 item 4): an application's own
// ./.env, holding values meant for something else, must not change or break a constructor.
describe('the application .env in the current directory', () => {
  const cwd = process.cwd();
  let dir = '';
  afterEach(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is not read by a constructor unless asked', () => {
    dir = mkdtempSync(join(tmpdir(), 'sku-dotenv-'));
    writeFileSync(join(dir, '.env'), 'SOCKET_LOG_LEVEL=loud\nSOCKET_UNIX_MAX_CONNECTIONS=zero\n');
    process.chdir(dir);
    expect(
      () => new UnixSocketServer({ eventName: 'orders', socketDir: dir, logLevel: 'silent', env: {} }),
    ).not.toThrow();
    expect(() => new UnixSocketClient({ eventName: 'orders', socketDir: dir, env: {} })).not.toThrow();
    // Asked for, the same file is read, and its bad value is named with its source.
    expect(
      () => new UnixSocketClient({ eventName: 'orders', socketDir: dir, env: {}, envFile: join(dir, '.env') }),
    ).toThrow('SOCKET_LOG_LEVEL="loud" (.env');
  });
});

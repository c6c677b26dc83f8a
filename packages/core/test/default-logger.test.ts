import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, jest } from '@jest/globals';
import { createLogger } from '../src/ops/logger.js';

// tslog may colour its level names; the lines are compared without escape sequences.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');
const plain = (s: string): string => s.replace(ANSI, '');
const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t(\w+)\tsocketkit:test\t(.*)$/;

describe('default logger (tslog loaded on its first line)', () => {
  it('in a Node process: warn and error lines on stderr, in order, nothing below the level, none lost at exit', () => {
    const script = fileURLToPath(new URL('./fixtures/default-logger.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    const lines = plain(r.stderr)
      .split('\n')
      .filter((l) => LINE.test(l));
    expect(lines.map((l) => (LINE.exec(l) as RegExpExecArray)[1])).toEqual(['WARN', 'ERROR']);
    expect(lines[0]).toMatch(/\tshown 42$/);
    expect(plain(r.stderr)).not.toContain('hidden');
  });

  it('where require of an ES module is refused (this test runner), lines wait for the import, in order', async () => {
    const seen: string[] = [];
    const spy = jest.spyOn(console, 'error').mockImplementation((...args: unknown[]) => {
      seen.push(plain(args.map(String).join(' ')));
    });
    try {
      const log = createLogger('socketkit:test', 'info');
      log.debug('hidden');
      log.info('first');
      log.warn('second');
      log.error('third');
      for (let i = 0; i < 200 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen.join('\n')).not.toContain('hidden');
      expect(seen.map((l) => /(INFO|WARN|ERROR)/.exec(l)?.[1])).toEqual(['INFO', 'WARN', 'ERROR']);
      expect(seen[0]).toContain('first');
      expect(seen[2]).toContain('third');
    } finally {
      spy.mockRestore();
    }
  });
});

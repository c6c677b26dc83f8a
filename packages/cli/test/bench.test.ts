import { afterAll, afterEach, beforeAll, expect, test } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, killAll, runCli } from './helpers.js';

let dir: string;
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'sk-'));
});
afterEach(killAll);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('bench runs the runner with --quick plus the extra arguments and exits with its code', async () => {
  const script = join(dir, 'run.mjs');
  writeFileSync(script, 'console.log(JSON.stringify(process.argv.slice(2))); process.exit(3);\n');
  const r = await runCli(['bench', '--script', script, '--', '--only', 'latency'], dir);
  expect(JSON.parse(r.stdout.trim())).toEqual(['--quick', '--only', 'latency']);
  expect(r.code).toBe(3);
});

test('bench with no runner exits 1 and says what to do', async () => {
  const r = await runCli(['bench', '--script', join(dir, 'missing/run.js')], dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^error BENCH_NOT_FOUND: /m);
  expect(r.stderr).toContain(join(dir, 'missing/run.js'));
  expect(r.stderr).toContain('pnpm build');
});

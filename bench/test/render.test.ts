import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { markdownReport } from '../src/report/report.js';
import type { BenchResults } from '../src/report/results.js';
import { main } from '../src/run.js';

describe('--render FILE', () => {
  let dir: string | undefined;
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('writes the .md and .svg of a results JSON again without measuring', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sk-render-'));
    const json = await readFile(new URL('../results/latest.json', import.meta.url), 'utf8');
    const file = join(dir, 'run.json');
    await writeFile(file, json);
    expect(await main(['--render', file])).toBe(0);
    const md = await readFile(join(dir, 'run.md'), 'utf8');
    expect(md).toBe(markdownReport(JSON.parse(json) as BenchResults, 'run.svg'));
    expect(await readFile(join(dir, 'run.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('refuses a file that is not a results .json', async () => {
    await expect(main(['--render', 'results/latest.md'])).rejects.toThrow(/results \.json/);
  });
});

/**
 * `node dist/report/render.js [results/latest.json]`: re-renders the markdown table
 * and the SVG chart from a results JSON without running the benchmark.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { renderChartSvg } from './chart.js';
import { markdownReport } from './report.js';
import type { BenchResults } from './results.js';

/** Writes `<name>.md` and `<name>.svg` next to `<name>.json`. */
export async function renderFromJson(jsonPath: string): Promise<void> {
  const results = JSON.parse(await readFile(jsonPath, 'utf8')) as BenchResults;
  if (results.rows.some((r) => !Array.isArray((r as { values?: unknown }).values))) {
    throw new Error(
      `${jsonPath} was written by the bench before issue 16 (no ceiling, peers or scaling curve): run the bench ` +
        `again to get results this version renders`,
    );
  }
  const stem = jsonPath.replace(/\.json$/, '');
  await writeFile(`${stem}.svg`, await renderChartSvg(results));
  await writeFile(`${stem}.md`, markdownReport(results, `${basename(stem)}.svg`));
  console.log(`wrote ${stem}.md and ${stem}.svg`);
}

renderFromJson(process.argv[2] ?? new URL('../../results/latest.json', import.meta.url).pathname).catch(
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);

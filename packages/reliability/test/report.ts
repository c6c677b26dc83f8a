// Each scenario records its figures here; RELIABILITY.md is written from
// packages/reliability/results/*.json by scripts/reliability-report.mjs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** Writes the figures of one scenario (overwrites the previous run's). */
export function record(scenario: string, figures: Record<string, unknown>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `${scenario}.json`),
    `${JSON.stringify({ scenario, ...figures, at: new Date().toISOString() }, null, 2)}\n`,
  );
}

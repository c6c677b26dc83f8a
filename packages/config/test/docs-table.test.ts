import { describe, it, expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_KEYS, type ConfigKey } from '../src/index.js';

// The configuration tables of the READMEs are derived from CONFIG_KEYS (the one table):
// this test fails when they drift, and prints the table to paste.
function cell(value: unknown): string {
  return typeof value === 'string' ? `\`${value}\`` : `${String(value)}`;
}
function unit(k: ConfigKey): string {
  if (k.envUnit !== undefined) return `${k.unit} (env and settings file: ${k.envUnit})`;
  return k.unit ?? '';
}
export function configTable(): string {
  const rows = CONFIG_KEYS.map(
    (k) =>
      `| \`${k.path}\` | \`${k.env}\` | \`[${k.settings.table}] ${k.settings.key}\` | ${cell(k.default)} | ` +
      `${unit(k)} ` +
      `| ${k.description} |`,
  );
  return ['| option | env var | settings file | default | unit | what |', '|---|---|---|---|---|---|', ...rows].join(
    '\n',
  );
}
function between(file: string): string {
  const text = readFileSync(fileURLToPath(new URL(file, import.meta.url)), 'utf8');
  const start = text.indexOf('<!-- config-keys:start -->');
  const end = text.indexOf('<!-- config-keys:end -->');
  expect(start).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(start);
  return text.slice(start + '<!-- config-keys:start -->'.length, end).trim();
}

describe('README configuration tables', () => {
  it.each(['../README.md', '../../../README.md'])('%s lists every key as CONFIG_KEYS does', (file) => {
    expect(between(file)).toBe(configTable());
  });
});

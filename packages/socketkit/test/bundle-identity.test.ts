/**
 * The published packages ship bundled JavaScript (scripts/build-package.mjs, issue 28). A bundle must never carry
 * its own copy of another package's code: a class copied into two bundles breaks `instanceof` and splits module
 * state. Here every entry of every published package is imported from its built dist, and a name exported by
 * several entries (re-exports such as `SocketError` from `@socketkit/unix` and `socketkit`) must be the very same
 * value in each.
 */
import { describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packages = join(dirname(fileURLToPath(import.meta.url)), '../..');
const ENTRIES = [
  'protocol/dist/index.js',
  'codec/dist/index.js',
  'config/dist/index.js',
  'core/dist/index.js',
  'core/dist/internal.js',
  'core/dist/net/index.js',
  'unix/dist/index.js',
  'tcp/dist/index.js',
  'nats/dist/index.js',
  'socketkit/dist/index.js',
  'cli/dist/index.js',
];

describe('bundled dist', () => {
  test('a name exported by several packages or subpaths is one value (one class, one identity)', async () => {
    const seen = new Map<string, { entry: string; value: unknown }>();
    const split: string[] = [];
    for (const entry of ENTRIES) {
      const file = join(packages, entry);
      if (!existsSync(file)) throw new Error(`${file} is missing: run "npx -y pnpm@10.34.9 build" first`);
      const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(mod)) {
        const first = seen.get(name);
        if (first === undefined) seen.set(name, { entry, value });
        else if (first.value !== value) split.push(`${name}: ${first.entry} and ${entry}`);
      }
    }
    expect(split).toEqual([]);
    // The check has something to compare: re-exports across packages exist.
    expect(seen.size).toBeGreaterThan(100);
  });
});

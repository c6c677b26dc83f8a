#!/usr/bin/env node
// Runs a command with one pinned runtime of runtimes.json first on PATH, e.g.
//   node packages/runtimes/test/with-runtime.mjs node24 node scripts/test-all.mjs
// (the root `pnpm test:node24`). SOCKETKIT_TEST_NODE is set to the version so
// turbo caches those test results apart from the default Node's.
import { spawnSync } from 'node:child_process';
import { delimiter, dirname } from 'node:path';
import { RUNTIMES, resolveRuntime } from './runtimes.mjs';

const [id, cmd, ...args] = process.argv.slice(2);
const rt = RUNTIMES.find((r) => r.id === id);
if (rt === undefined || cmd === undefined) {
  console.error(`usage: with-runtime.mjs <${RUNTIMES.map((r) => r.id).join('|')}> <command> [args...]`);
  process.exit(2);
}
const bin = resolveRuntime(rt);
const env = {
  ...process.env,
  PATH: `${dirname(bin)}${delimiter}${process.env.PATH ?? ''}`,
  SOCKETKIT_TEST_NODE: `${rt.package}@${rt.version}`,
};
console.error(`with ${rt.label} ${rt.version}: ${bin}`);
const r = spawnSync(cmd, args, { stdio: 'inherit', env });
if (r.error) console.error(`${cmd}: ${r.error.message}`);
process.exit(r.status ?? 1);

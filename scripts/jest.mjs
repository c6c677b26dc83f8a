#!/usr/bin/env node
// Runs jest for the package in the current directory: ESM mode, results to
// .jest-results.json (totalled by scripts/test-all.mjs). Extra args pass through.
// SOCKETKIT_TEST_DETECT_HANDLES=1 adds --detectOpenHandles.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const jestBin = require.resolve('jest/bin/jest');
const args = [
  '--experimental-vm-modules',
  '--no-warnings=ExperimentalWarning',
  jestBin,
  '--json',
  '--outputFile=.jest-results.json',
  ...(process.env.SOCKETKIT_TEST_DETECT_HANDLES === '1' ? ['--detectOpenHandles'] : []),
  ...process.argv.slice(2),
];
// Library logging is silent in tests unless asked for (SOCKET_LOG_LEVEL=debug ...).
const env = { ...process.env, SOCKET_LOG_LEVEL: process.env.SOCKET_LOG_LEVEL ?? 'silent' };
const child = spawn(process.execPath, args, { stdio: 'inherit', env });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));

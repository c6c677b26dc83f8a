#!/usr/bin/env node
import { main } from './cli.js';

// A closed stdout (e.g. `socketkit listen jobs | head -1`) ends the program quietly.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Everything is closed by now; should a stray handle linger, do not hang.
setTimeout(() => process.exit(code), 2000).unref();

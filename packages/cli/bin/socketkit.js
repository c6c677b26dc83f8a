#!/usr/bin/env node
// The `socketkit` command. A committed shim rather than dist/bin.js itself, so that the file
// exists when a package manager links the command: in a fresh checkout, install runs before build.
import('../dist/bin.js').catch((err) => {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/bin.js')) {
    console.error('socketkit: @socketkit/cli is not built yet: run "npx -y pnpm@10.34.9 build" in the checkout first');
    process.exit(1);
  }
  throw err;
});

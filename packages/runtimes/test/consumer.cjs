'use strict';
// CommonJS consumer: loads the built (ESM) packages with require(), as a CJS
// application does (Node >= 20.19 / 22.12 require(esm), Bun, Deno).
const unix = require('@socketkit/unix');
const tcp = require('@socketkit/tcp');
const scenarios = require('./scenarios.cjs');

scenarios.runAll({ unix, tcp }).catch((err) => {
  console.error(err);
  process.exitCode = 1;
});

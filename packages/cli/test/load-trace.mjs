// Node module hooks for broker.test.ts: every module resolved from the broker package is appended to the file named
// by SK_LOAD_TRACE (node --import ./test/load-trace.mjs ...).
import { register } from 'node:module';

register(
  `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.includes('/packages/broker/') || r.url.includes('@socketkit/broker'))
    appendFileSync(${JSON.stringify(process.env.SK_LOAD_TRACE ?? '/dev/null')}, r.url + '\\n');
  return r;
}`)}`,
);

/**
 * Calls the calculator service: a few requests in parallel, an ERROR reply
 * caught as a typed error, and a request that times out.
 *
 *   node dist/caller.js --port 9000 [--host 127.0.0.1] [--name caller]
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SocketError, TcpSocketClient, TimeoutError } from '@socketkit/tcp';

const EVENT = 'calculator';

/** Runs the calls; resolves true when every answer was as expected. */
export async function call(name: string, port: number, host?: string): Promise<boolean> {
  const client = new TcpSocketClient({
    eventName: EVENT,
    port,
    logLevel: 'warn',
    ...(host === undefined ? {} : { host }),
  });
  await client.connect({ waitForWelcome: true });
  const log = (text: string): void => console.log(`[${name}] ${text}`);
  let ok = true;
  try {
    // Requests in flight at once; each reply finds its way back by id.
    const a = Math.floor(Math.random() * 100);
    const b = Math.floor(Math.random() * 100);
    const [sum, product, root] = await Promise.all([
      client.request({ method: 'add', params: { a, b } }),
      client.request({ method: 'multiply', params: { a, b } }),
      client.request({ method: 'sqrt', params: { x: a * a } }),
    ]);
    log(`${a} + ${b} = ${sum.data.result}, ${a} * ${b} = ${product.data.result}, sqrt(${a * a}) = ${root.data.result}`);
    ok &&= sum.data.result === a + b && product.data.result === a * b && root.data.result === a;

    // The service refuses: the ERROR reply arrives as a typed error with a code.
    try {
      await client.request({ method: 'sqrt', params: { x: -1 } });
      ok = false;
    } catch (err) {
      if (!(err instanceof SocketError)) throw err;
      log(`sqrt(-1) refused: ${err.code}: ${err.message}`);
    }

    // No reply in time: TimeoutError (the late reply is ignored).
    try {
      await client.request({ method: 'slow', params: { ms: 500 } }, { timeout: 100 });
      ok = false;
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err;
      log(`slow call: ${err.code} after 100 ms, as asked`);
    }
  } finally {
    await client.disconnect();
  }
  log(ok ? 'all answers correct' : 'WRONG ANSWERS');
  return ok;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '9000' },
      host: { type: 'string' },
      name: { type: 'string', default: 'caller' },
    },
  });
  process.exitCode = (await call(values.name, Number(values.port), values.host)) ? 0 : 1;
}

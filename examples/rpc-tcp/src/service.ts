/**
 * A small calculator service over TCP: request/reply with socketkit. Each
 * request is `{ method, params }`; the handler's return value is the reply,
 * a thrown error becomes an ERROR reply the caller receives as a typed error.
 *
 *   node dist/service.js [--port 9000]     (0 = any free port; default: first free of 9000-9100)
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ErrorCode, TcpSocketServer, ValidationError, type MessageData } from '@socketkit/tcp';

/** Event name of the service. */
export const EVENT = 'calculator';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function num(params: MessageData, key: string): number {
  const v = params[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ValidationError(
      ErrorCode.INVALID_MESSAGE,
      `params.${key} must be a finite number, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** The request handler: returns the reply data (sync or async), or throws. */
export async function handle(data: MessageData): Promise<MessageData> {
  const params = (data.params ?? {}) as MessageData;
  switch (data.method) {
    case 'add':
      return { result: num(params, 'a') + num(params, 'b') };
    case 'multiply':
      return { result: num(params, 'a') * num(params, 'b') };
    case 'sqrt': {
      const x = num(params, 'x');
      if (x < 0)
        throw new ValidationError(ErrorCode.INVALID_MESSAGE, `cannot take the square root of ${x}: pass x >= 0`);
      return { result: Math.sqrt(x) };
    }
    case 'slow':
      await sleep(num(params, 'ms'));
      return { result: 'finally' };
    default:
      throw new Error(`unknown method ${JSON.stringify(data.method)}: use add, multiply, sqrt or slow`);
  }
}

/** Starts the service; resolves with the server once it accepts connections. */
export async function startService(port?: number): Promise<TcpSocketServer> {
  // logLevel 'warn' would also log every refused request.
  const server = new TcpSocketServer({
    eventName: EVENT,
    logLevel: 'error',
    handler: handle,
    ...(port === undefined ? {} : { port }),
  });
  server.on('clientConnected', (id) => console.log(`[service] ${id} connected`));
  server.on('clientDisconnected', (id) => console.log(`[service] ${id} disconnected`));
  await server.start();
  return server;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  const { values } = parseArgs({ options: { port: { type: 'string' } } });
  const server = await startService(values.port === undefined ? undefined : Number(values.port));
  console.log(`[service] listening on ${server.address} port ${server.port}`);
  const stop = async (): Promise<void> => {
    await server.stop();
    console.log('[service] stopped');
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

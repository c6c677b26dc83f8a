/** What the broker, its workers and its submitters share. */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** Command-line options every process of the example accepts. */
export const ENDPOINT_OPTIONS = {
  transport: { type: 'string', default: 'unix' },
  'socket-dir': { type: 'string' },
  port: { type: 'string' },
} as const;

/** Where the broker is: options for `startBroker` / `connect` from parsed {@link ENDPOINT_OPTIONS}. */
export function endpoint(values: { transport: string; 'socket-dir'?: string | undefined; port?: string | undefined }): {
  transport: 'unix' | 'tcp';
  socketDir?: string;
  port?: number;
  logLevel: 'warn';
} {
  if (values.transport !== 'unix' && values.transport !== 'tcp') throw new Error(`--transport must be unix or tcp, got ${values.transport}`);
  const options: { transport: 'unix' | 'tcp'; socketDir?: string; port?: number; logLevel: 'warn' } = { transport: values.transport, logLevel: 'warn' };
  if (values['socket-dir'] !== undefined) options.socketDir = values['socket-dir'];
  if (values.port !== undefined) options.port = Number(values.port);
  return options;
}

/** A task: a text and how many rounds of hashing to do. */
export interface Task {
  from: string;
  text: string;
  rounds: number;
}

/** The "work" of a task: `rounds` chained SHA-256 digests of the text. */
export function work(text: string, rounds: number): string {
  let digest = createHash('sha256').update(text).digest('hex');
  for (let i = 1; i < rounds; i++) digest = createHash('sha256').update(digest).digest('hex');
  return digest;
}

/** True when the module at `url` is the program being run (`node dist/x.js`). */
export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && url === pathToFileURL(realpathSync(process.argv[1])).href;
}

// The admission-server fixture (fixtures/admission-server.mjs), spawned by the admission tests.
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from '@socketkit/conformance';

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURE = join(here, 'fixtures', 'admission-server.mjs');
export const PKG = join(here, '..');

/** One JSON line the fixture writes on its stdout. */
export type Event = Record<string, unknown> & { ev?: string };

/**
 * Collects the fixture `child`'s events (the JSON lines of its stdout); SIGKILLs it at cleanup and waits until it
 * closes.
 */
export function followEvents(child: ChildProcess): Event[] {
  const events: Event[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() as string;
    for (const line of parts) if (line.startsWith('{')) events.push(JSON.parse(line) as Event);
  });
  child.stdin?.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return events;
}

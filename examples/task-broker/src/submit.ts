/**
 * A submitter: sends tasks to the broker (all at once) and checks every
 * result against its own computation. The texts are up to 256 KB, far above
 * the 4 KB a pipe write keeps atomic: with several submitters sharing a named
 * pipe they would interleave and corrupt each other; here each one is a frame
 * of its own.
 *
 *   node dist/submit.js --name submitter-1 [--tasks 6] [--transport unix|tcp] [--socket-dir DIR] [--port N]
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connect } from '@socketkit/broker';
import { ENDPOINT_OPTIONS, endpoint, isMain, type Task, work } from './shared.js';

const ROUNDS = 20_000;

/** Submits `count` tasks; resolves true when every result was correct. */
export async function submit(name: string, count: number, values: Parameters<typeof endpoint>[0]): Promise<boolean> {
  const comm = await connect(endpoint(values));
  try {
    const texts = Array.from({ length: count }, () => randomBytes(1024 + Math.floor(Math.random() * 191 * 1024)).toString('base64'));
    const results = (await Promise.all(texts.map((text) => comm.taskSend({ from: name, text, rounds: ROUNDS } satisfies Task)))) as {
      digest: string;
      worker: string;
    }[];
    const by = new Map<string, number>();
    let correct = 0;
    results.forEach((r, i) => {
      if (r.digest === work(texts[i] as string, ROUNDS)) correct++;
      by.set(r.worker, (by.get(r.worker) ?? 0) + 1);
    });
    const split = [...by.entries()]
      .sort()
      .map(([w, n]) => `${w} x${n}`)
      .join(', ');
    console.log(`[${name}] ${correct}/${count} results correct (done by ${split})`);
    return correct === count;
  } finally {
    await comm.close();
  }
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      ...ENDPOINT_OPTIONS,
      name: { type: 'string', default: `submitter-${process.pid}` },
      tasks: { type: 'string', default: '6' },
    },
  });
  process.exitCode = (await submit(values.name, Number(values.tasks), values)) ? 0 : 1;
}

// The bench's worker processes: a worker that never gets ready, or a failure among several started together, must
// leave no child process behind (a live child kept `node dist/run.js` from exiting after a failed run).
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkerHandle } from '../src/harness/ipc.js';
import { execFileSync } from 'node:child_process';

const dir = mkdtempSync(join(tmpdir(), 'skbench-ipc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A worker script: answers every command (`ready`), never answers (`mute`), or exits at once (`dies`). */
function script(kind: 'ready' | 'mute' | 'dies'): string {
  const file = join(dir, `${kind}.mjs`);
  const body = {
    ready:
      "process.on('message', (m) => " +
      "(m.cmd === 'exit' ? process.exit(0) : process.send({ id: m.id, ok: true, result: process.pid })));",
    mute: `process.on('message', () => undefined); setInterval(() => undefined, 1000);`,
    dies: `process.exit(3);`,
  }[kind];
  writeFileSync(file, `${body}\n`);
  return file;
}

/** The command lines of this test process's live children that run `file`. */
function childrenRunning(file: string): string[] {
  return execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(file));
}

const alive = (pid: number | undefined): boolean => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('bench worker processes', () => {
  it('a worker that does not answer its readiness ping is killed, not left running', async () => {
    const err = await WorkerHandle.spawn('mute1', [], script('mute'), undefined, 300).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(String(err)).toMatch(/mute1: "ping" did not answer within 300 ms/);
    expect(childrenRunning('mute.mjs')).toEqual([]);
  });

  it('spawnAll: when one worker fails, the ready ones are closed before the error', async () => {
    const ready = script('ready');
    const err = await WorkerHandle.spawnAll([
      { name: 'w1', workerPath: ready },
      { name: 'w2', workerPath: script('dies') },
      { name: 'w3', workerPath: ready },
    ]).catch((e: Error) => e);
    expect(String(err)).toMatch(/w2 exited \(code 3/);
    expect(childrenRunning('ready.mjs')).toEqual([]);
  });

  it('spawnAll: all ready, all returned in order', async () => {
    const ready = script('ready');
    const handles = await WorkerHandle.spawnAll([
      { name: 'a', workerPath: ready },
      { name: 'b', workerPath: ready },
    ]);
    expect(handles.map((h) => h.name)).toEqual(['a', 'b']);
    const pids = await Promise.all(handles.map((h) => h.call<number>('ping')));
    expect(pids.every((pid) => alive(pid))).toBe(true);
    await Promise.all(handles.map((h) => h.close()));
    expect(pids.some((pid) => alive(pid))).toBe(false);
  });
});

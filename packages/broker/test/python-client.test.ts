import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { connect, startBroker } from '../src/index.js';

const run = promisify(execFile);
// Debian's python3 with python3-msgpack (scripts/ensure-system-deps.sh), as the conformance interop tests use.
const PYTHON = '/usr/bin/python3';
const hasMsgpack = spawnSync(PYTHON, ['-c', 'import msgpack']).status === 0;
const SCRIPT = fileURLToPath(new URL('./python_client.py', import.meta.url));

describe('the broker protocol is enough for a client in another language', () => {
  (hasMsgpack ? it : it.skip)(
    `${hasMsgpack ? '' : '[skipped: python3 with msgpack not installed] '}a Python client with msgpack alone submits, works, gets its outcome and calls RPC`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'skbroker-py-'));
      const broker = await startBroker({ socketDir: dir, eventName: 'pybroker' });
      const js = await connect({ socketDir: dir, eventName: 'pybroker' });
      try {
        await js.addRpcSubscriber((body) => ({ echo: body }), 'js-echo');
        const { stdout } = await run(PYTHON, [SCRIPT, broker.address, 'pybroker'], { timeout: 20_000 });
        const seen = JSON.parse(stdout) as Record<string, unknown>;
        expect(seen).toEqual({
          welcome: 'welcome',
          subscribe: { kind: 'reply', ref: 1, ok: true },
          accepted: { kind: 'reply', ref: 2, ok: true },
          deliver: { taskId: 'py-task-1', attempt: 1, identifier: 'py-worker', body: { n: 21 } },
          resultAck: { kind: 'reply', ref: 3, ok: true },
          outcome: { kind: 'outcome', taskId: 'py-task-1', ok: true, result: 42 },
          stale: { kind: 'reply', ref: 4, ok: false, error: expect.objectContaining({ code: 'STALE_DELIVERY' }) },
          unroutable: { kind: 'reply', ref: 5, ok: false, error: expect.objectContaining({ code: 'UNROUTABLE' }) },
          rpc: { kind: 'reply', ref: 6, ok: true, result: { echo: { x: 1 } } },
        });
        expect(broker.stats().totals).toMatchObject({ submitted: 1, completed: 1, staleRefused: 1 });
      } finally {
        await js.close();
        await broker.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

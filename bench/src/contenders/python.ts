/**
 * Node-side handles of the Python reference peer (`python/peer.py`, run by
 * `/usr/bin/python3` with Debian's python3-msgpack): each server or client is
 * a Python process of its own, driven by JSON lines over its stdio.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { childPids } from '../harness/proc.js';
import type { Address, BroadcastResult, CountResult, TransportKind, WriteResult } from '../harness/types.js';

/** The interpreter of the reference peer: Debian's, where python3-msgpack lives (`BENCH_PYTHON` overrides it). */
export const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const PEER = join(resolve(dirname(fileURLToPath(import.meta.url)), '../..'), 'python', 'peer.py');

/** Python and msgpack versions, or why the Python peer cannot run here. */
export function pythonProbe(): { ok: true; version: string } | { ok: false; error: string } {
  const r = spawnSync(
    PYTHON,
    ['-c', 'import sys, msgpack; print(sys.version.split()[0], ".".join(map(str, msgpack.version)))'],
    {
      encoding: 'utf8',
      timeout: 10_000,
    },
  );
  if (r.error !== undefined) return { ok: false, error: `${PYTHON}: ${r.error.message}` };
  if (r.status !== 0)
    return {
      ok: false,
      error:
        `${PYTHON} has no msgpack module (install Debian's python3-msgpack): ` +
        `${r.stderr.trim().split('\n').pop() ?? ''}`,
    };
  const [py, mp] = r.stdout.trim().split(' ');
  return { ok: true, version: `Python ${py}, msgpack ${mp}` };
}

/** Describes a `data` payload so the peer builds the same one (`{ payload: "xxx…" }` or `{ payload: <bytes> }`). */
function spec(data: Record<string, unknown>): { kind: 'str' | 'bin'; n: number } {
  const p = data.payload;
  return typeof p === 'string' ? { kind: 'str', n: p.length } : { kind: 'bin', n: (p as Buffer).length };
}

class PeerProcess {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  #next = 0;
  #stderr = '';

  constructor() {
    this.#child = spawn(PYTHON, [PEER], { stdio: ['pipe', 'pipe', 'pipe'] });
    const pid = this.#child.pid;
    if (pid !== undefined) childPids.add(pid);
    this.#child.stderr!.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-2000);
    });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => {
      const r = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: string };
      const p = this.#pending.get(r.id);
      this.#pending.delete(r.id);
      if (r.ok) p?.resolve(r.result);
      else p?.reject(new Error(`python peer: ${r.error ?? 'failed'}`));
    });
    this.#child.on('exit', (code) => {
      if (pid !== undefined) childPids.delete(pid);
      for (const p of this.#pending.values())
        p.reject(new Error(`python peer exited (code ${code}): ${this.#stderr.trim()}`));
      this.#pending.clear();
    });
    this.#child.on('error', () => undefined);
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.#next;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#child.stdin!.write(`${JSON.stringify({ id, cmd, args })}\n`);
    });
  }

  async stop(): Promise<void> {
    await this.call('stop').catch(() => undefined);
    this.#child.stdin!.end();
    this.#child.kill();
  }
}

/** A Python peer server: broadcasts in 64 KiB writes (blocking `sendall`), answers requests. */
export class PyServer {
  readonly #peer = new PeerProcess();
  readonly #eventName: string;
  #count = 0;

  constructor(eventName: string) {
    this.#eventName = eventName;
  }

  start(transport: TransportKind, socketDir: string): Promise<Address> {
    if (transport === 'nats') return Promise.reject(new Error('the Python peer does not run over NATS'));
    return this.#peer.call<Address>('start', { transport, socketDir, eventName: this.#eventName });
  }

  /** Last known client count; refreshed in the background (the worker polls it). */
  clientCount(): number {
    void this.#peer.call<number>('clientCount').then(
      (n) => (this.#count = n),
      () => undefined,
    );
    return this.#count;
  }

  broadcast(count: number, data: Record<string, unknown>): Promise<BroadcastResult> {
    return this.#peer.call('broadcast', { count, data: spec(data) });
  }

  armIngress(): void {
    throw new Error('no ingress scenario for the Python peer');
  }

  waitIngress(): Promise<CountResult> {
    return Promise.reject(new Error('no ingress scenario for the Python peer'));
  }

  stop(): Promise<void> {
    return this.#peer.stop();
  }
}

/** A Python peer client: counts broadcasts (one decode per frame), sends requests. */
export class PyClient {
  readonly #peer = new PeerProcess();

  /** Starts a Python process and connects it to `address`. */
  static async connect(address: Address): Promise<PyClient> {
    const c = new PyClient();
    try {
      await c.#peer.call('connect', { address });
    } catch (err) {
      await c.#peer.stop();
      throw err;
    }
    return c;
  }

  async arm(count: number): Promise<void> {
    await this.#peer.call('arm', { count });
  }

  waitCount(): Promise<CountResult> {
    return this.#peer.call('waitCount');
  }

  requests(count: number, warmup: number, data: Record<string, unknown>): Promise<number[]> {
    return this.#peer.call('requests', { count, warmup, data: spec(data) });
  }

  write(): Promise<WriteResult> {
    return Promise.reject(new Error('no ingress scenario for the Python peer'));
  }

  close(): Promise<void> {
    return this.#peer.stop();
  }
}

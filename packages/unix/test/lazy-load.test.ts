// What a process that imports @socketkit/unix loads, observed in a fresh node process (its require.cache and the
// built-ins it loaded), so that code a program may never use stays off its start (issue 28: cold start). Loading
// msgpackr's native string extractor (msgpackr-extract through node-gyp-build, detect-libc and node:child_process)
// was about half of what importing msgpackr costs; the codec decodes with msgpackr's JavaScript decoder until it
// has decoded a few hundred sources large enough for the extractor to matter.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';

const fixture = fileURLToPath(new URL('./fixtures/loaded-modules.mjs', import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Loaded {
  cjs: string[];
  builtins: string[];
}

function run(mode: 'import' | 'stream', count = 0): Loaded {
  const dir = mkdtempSync(join(tmpdir(), 'sk-lazy-'));
  dirs.push(dir);
  const out = execFileSync(process.execPath, [fixture, dir, mode, String(count)], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1) as string) as Loaded;
}

/** Whether msgpackr's native extractor can load here (a prebuilt binary for this platform), as msgpackr finds it. */
function nativeAvailable(): boolean {
  try {
    const fromCodec = createRequire(createRequire(import.meta.url).resolve('@socketkit/core'));
    const fromMsgpackr = createRequire(createRequire(fromCodec.resolve('@socketkit/codec')).resolve('msgpackr'));
    fromMsgpackr('msgpackr-extract');
    return true;
  } catch {
    return false;
  }
}

const hasFile = (l: Loaded, part: string): boolean => l.cjs.some((f) => f.includes(part));

describe('modules loaded on first use, not by an import of @socketkit/unix', () => {
  it('an import loads none of msgpackr-extract, TOML/.env parsers, node:child_process, crypto, fs/promises', () => {
    const l = run('import');
    expect(hasFile(l, '/msgpackr-extract/')).toBe(false);
    expect(hasFile(l, '/node-gyp-build-optional-packages/')).toBe(false);
    expect(hasFile(l, '/smol-toml/')).toBe(false);
    expect(hasFile(l, '/dotenv/')).toBe(false);
    expect(l.builtins).not.toContain('child_process');
    expect(l.builtins).not.toContain('crypto');
    expect(l.builtins).not.toContain('fs/promises');
    expect(l.builtins).not.toContain('tls');
    expect(l.builtins).not.toContain('http');
  });

  // (node:net's listen itself loads node:cluster and with it node:child_process: not checked here.)
  it('a client that received a few messages has not loaded the native extractor either', () => {
    const l = run('stream', 20);
    expect(hasFile(l, '/msgpackr-extract/')).toBe(false);
    expect(hasFile(l, '/node-gyp-build-optional-packages/')).toBe(false);
  });

  it('a client that received hundreds of string-heavy messages decodes them with the native extractor', () => {
    const l = run('stream', 600);
    // Where msgpackr has no prebuilt binary for the platform, it decodes in JavaScript (the same values).
    expect(hasFile(l, '/msgpackr-extract/')).toBe(nativeAvailable());
  });
});

// Set-ups shared by the configuration tests: a private temp dir per file,
// the typed-error check, dotted key access and one non-default value per key.
import { afterAll, beforeAll, expect } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, ValidationError } from '@socketkit/protocol';
import type { SocketConfig } from '../src/index.js';

/**
 * A private temp dir for the tests of this file (made before them, removed after); `write` adds a uniquely named file.
 */
export function useTempDir(prefix: string): { dir(): string; write(stem: string, ext: string, text: string): string } {
  let tmp: string | undefined;
  let counter = 0;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), `socketkit-${prefix}-test-${process.pid}-`));
  });
  afterAll(() => {
    if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true });
  });
  const dir = (): string => {
    if (tmp === undefined) throw new Error('temp dir used outside a test');
    return tmp;
  };
  return {
    dir,
    write(stem, ext, text) {
      const file = path.join(dir(), `${stem}-${counter++}.${ext}`);
      writeFileSync(file, text);
      return file;
    },
  };
}

/** Runs `fn`, expects a `ValidationError` with code `INVALID_CONFIG` and returns it. */
export function configError(fn: () => unknown): ValidationError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ValidationError);
  expect((err as ValidationError).code).toBe(ErrorCode.INVALID_CONFIG);
  return err as ValidationError;
}

/** Reads a dotted path such as `tcp.host` from a config. */
export function at(config: SocketConfig, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], config);
}

/**
 * A non-default value for each of the 16 keys: `[as written, as parsed]`.
 * Written as an environment variable: `String(written)`; in TOML: {@link tomlLiteral}.
 */
export const NON_DEFAULT: Readonly<Record<string, readonly [string | number | boolean, unknown]>> = {
  socketDir: ['/var/run/socketkit', '/var/run/socketkit'],
  defaultTimeoutMs: [2.5, 2500],
  bufferSize: [64, 64],
  timezone: ['Asia/Kathmandu', 'Asia/Kathmandu'],
  messageQueueSize: [0, 0],
  blockingMode: [true, true],
  allowClientSend: [false, false],
  maxMessageSize: [2097152, 2097152],
  logLevel: ['debug', 'debug'],
  'unix.maxConnections': [3, 3],
  'unix.socketPermissions': ['0660', '0660'],
  'unix.autoRemoveSocket': [false, false],
  'tcp.host': ['0.0.0.0', '0.0.0.0'],
  'tcp.portRangeStart': [9050, 9050],
  'tcp.portRangeEnd': [9060, 9060],
  'tcp.maxConnections': [50, 50],
};

/** A value of {@link NON_DEFAULT} as a TOML literal (strings quoted). */
export function tomlLiteral(v: string | number | boolean): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

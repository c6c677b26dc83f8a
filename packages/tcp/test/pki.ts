// A throwaway PKI made with openssl in a temp dir, for one test file's run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from '@jest/globals';

export const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export interface Pki {
  /** The path of `name` in the PKI's dir. */
  file(name: string): string;
  /** A self-signed CA: `${name}.key` and `${name}.crt`. */
  ca(name: string, subject: string): void;
  /** A key and a certificate signed by CA `ca`, with openssl x509 extensions `ext`: `${name}.key` and `${name}.crt`. */
  issue(name: string, ca: string, subject: string, ext: string): void;
}

/**
 * Makes a temp dir (prefix `prefix`) in beforeAll and has `make` fill it (if openssl is
 * found), removes it in afterAll.
 */
export function usePki(prefix: string, make: (pki: Pki) => void): Pki {
  let dir = '';
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const pki: Pki = {
    file,
    ca: (name, subject) =>
      openssl('req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', subject),
    issue: (name, ca, subject, ext) => {
      openssl('req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
      writeFileSync(file(`${name}.ext`), ext);
      openssl(
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        `${ca}.crt`,
        '-CAkey',
        `${ca}.key`,
        '-CAcreateserial',
        '-days',
        '1',
        '-out',
        `${name}.crt`,
        '-extfile',
        `${name}.ext`,
      );
    },
  };
  beforeAll(() => {
    if (!hasOpenssl) return;
    dir = mkdtempSync(join(tmpdir(), prefix));
    make(pki);
  });
  afterAll(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });
  return pki;
}

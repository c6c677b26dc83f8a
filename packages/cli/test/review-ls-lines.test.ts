// Review of issue 22 item 13: a file name in the socket directory cannot forge a row of `socketkit ls`.
// Anyone who can create a file there (another user in a shared sticky directory) chooses the name.
import { describe, expect, test } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, useTestDir } from './helpers.js';

let dir = '';
useTestDir('sk-ls-lines-', (d) => {
  dir = d;
});

describe('ls: names from the socket directory are shown on their own row', () => {
  test('a name holding a line feed or a carriage return is escaped: one row per entry, no forged row', async () => {
    const forged = 'orders  unix  live  3  1000  0  0  0  0600  run-orders';
    writeFileSync(join(dir, `x\n${forged}.sock`), 'not a socket');
    writeFileSync(join(dir, `y\r${forged}.sock`), 'not a socket');
    const table = await runCli(['ls', '--socket-dir', dir], dir);
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(3); // the header and the two entries
    expect(lines.filter((l) => l.startsWith('orders'))).toEqual([]);
    expect(table.stdout).not.toContain('\r');
    expect(table.stdout).toContain('x\\norders');
    expect(table.stdout).toContain('y\\rorders');
  });
});

import { createHash, randomBytes } from 'node:crypto';

/**
 * A payload of random size (mostly under 4 KB, every 20th one 16-64 KB, far
 * above the 4 KB that pipe writes keep atomic) with its SHA-1, so receivers
 * can tell a corrupted or interleaved message.
 */
export function makePayload(seq: number): { payload: string; sha1: string } {
  const size =
    seq % 20 === 0 ? 16 * 1024 + Math.floor(Math.random() * 48 * 1024) : 16 + Math.floor(Math.random() * 4000);
  const payload = randomBytes(Math.ceil((size * 3) / 4))
    .toString('base64')
    .slice(0, size);
  return { payload, sha1: sha1(payload) };
}

/** Hex SHA-1 of a string. */
export function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

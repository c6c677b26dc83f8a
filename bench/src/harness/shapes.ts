/**
 * Payload shapes users send (issue 28): a small record with a sequence number and a blob, a nested progress object,
 * a 4 KiB binary. Built once per scenario and reused for every message, like {@link makeData}.
 */

/** Names of the payload shapes. */
export const SHAPES = ['seq-blob', 'progress', 'binary-4k'] as const;

/** One payload shape. */
export type ShapeName = (typeof SHAPES)[number];

/** What each shape is, for the report. */
export const SHAPE_TITLES: Record<ShapeName, string> = {
  'seq-blob': '{seq, blob}: a 230-byte frame',
  progress: 'nested progress object',
  'binary-4k': '4 KiB binary',
};

/**
 * The `data` object of a shape. `seq-blob` is sized so that its whole frame (length prefix, envelope and `data`, for a
 * 12-character event name) is about 230 bytes, as in the harness the issue quotes.
 */
export function makeShape(name: ShapeName): Record<string, unknown> {
  switch (name) {
    case 'seq-blob':
      return { seq: 123_456, blob: 'b'.repeat(83) };
    case 'progress':
      return {
        job: 'build-2041',
        step: 7,
        of: 12,
        percent: 58.3,
        stage: { name: 'compile', files: { done: 412, total: 706 }, warnings: 2 },
        host: { name: 'ci-runner-3', pid: 48213 },
        tags: ['linux', 'x64', 'release'],
        done: false,
      };
    case 'binary-4k':
      return { blob: Buffer.alloc(4096, 0x5a) };
  }
}

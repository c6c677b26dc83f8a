import { Packr, Unpackr } from 'msgpackr';

/**
 * The one msgpackr configuration socketkit uses: plain msgpack maps (no
 * records or extensions), minimal map headers like Python's `packb`, 64-bit
 * integers decoded as numbers.
 */
export const packr = new Packr({ useRecords: false, variableMapSize: true, encodeUndefinedAsNil: true });

/** Decoder twin of {@link packr}. `__proto__` keys are renamed by msgpackr, never assigned. */
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** Encodes any msgpack-able value as a plain msgpack value. */
export function packValue(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes one msgpack value. Throws msgpackr's error on bad input. */
export function unpackValue(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}

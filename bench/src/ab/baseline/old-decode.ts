// FROZEN COPY of @socketkit/codec's decodePayload before issue 14 (msgpackr
// decode, then the string-key byte walk), kept only as the baseline of
// encoder-ab.ts. Do not fix or extend.
import { parseMessage, type SocketMessage } from '@socketkit/protocol';
import { Unpackr } from 'msgpackr';
import { assertStringKeys } from './old-string-keys.js';

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function decodePayload(payload: Uint8Array): SocketMessage {
  const value: unknown = unpackr.unpack(payload);
  assertStringKeys(payload);
  return parseMessage(value);
}

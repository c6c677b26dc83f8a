import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { endianness } from 'node:os';

/** An address as /proc/net/tcp{,6} prints it: the bytes of each 32-bit word in host order, in hex. */
function procHex(address: string, six: boolean): string | undefined {
  let bytes: number[];
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.(\d+)$/i.exec(address);
  if (v4 !== null) {
    const b = v4.slice(1, 5).map(Number);
    bytes = six ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...b] : b;
  } else if (six && address === '::1') {
    bytes = [...new Array<number>(15).fill(0), 1];
  } else return undefined;
  const le = endianness() === 'LE';
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    const word = bytes.slice(i, i + 4);
    for (const x of le ? word.reverse() : word) out += x.toString(16).padStart(2, '0');
  }
  return out.toUpperCase();
}

function row(address: string, port: number, six: boolean): string | undefined {
  const hex = procHex(address, six);
  return hex === undefined ? undefined : `${hex}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * The uid that owns the server's end of an established loopback connection,
 * read from `/proc/net/tcp` and `/proc/net/tcp6` (Linux): the row whose
 * local address is the server's and whose remote address is this socket's
 * own. An accepted socket carries the uid of the process that created the
 * listening socket, so this says who is listening. Undefined when it cannot
 * be told (no /proc, the server already closed its end, an address that is
 * not loopback IPv4/IPv6).
 */
export function loopbackServerUid(socket: Socket): number | undefined {
  const { remoteAddress, remotePort, localAddress, localPort } = socket;
  if (remoteAddress === undefined || remotePort === undefined || localAddress === undefined || localPort === undefined)
    return undefined;
  for (const six of [false, true]) {
    const server = row(remoteAddress, remotePort, six);
    const client = row(localAddress, localPort, six);
    if (server === undefined || client === undefined) continue;
    let text: string;
    try {
      text = readFileSync(six ? '/proc/net/tcp6' : '/proc/net/tcp', 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f[1] === server && f[2] === client) return Number(f[7]);
    }
  }
  return undefined;
}

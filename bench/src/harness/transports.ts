/**
 * The transports the bench runs, from socketkit's one transport registry:
 * every registered transport the bench has scenario wiring for (addresses,
 * raw baselines, peers), i.e. the registry's built-in table. A transport
 * added with `registerTransport()` is recognised and refused by name.
 */
import { TRANSPORT_PACKAGES, transportNames } from 'socketkit';
import type { TransportKind } from './types.js';

/** True for a transport the bench can drive (a built-in one of the registry). */
export function isBenchTransport(name: string): name is TransportKind {
  return Object.hasOwn(TRANSPORT_PACKAGES, name) && transportNames().includes(name);
}

/** The registered transports the bench drives, in registry order. */
export function benchTransports(): TransportKind[] {
  return transportNames().filter(isBenchTransport);
}

/**
 * The `--transport` list (comma-separated), or every bench transport when absent.
 * @throws Error naming the bench's transports for an unknown or unsupported name.
 */
export function parseTransports(arg: string | undefined): TransportKind[] {
  if (arg === undefined) return benchTransports();
  const names = arg.split(',').map((s) => s.trim());
  const all = benchTransports().join(', ');
  for (const n of names) {
    if (isBenchTransport(n)) continue;
    if (transportNames().includes(n))
      throw new Error(
        `--transport: "${n}" is registered, but the bench drives only ${all} (its scenarios need per-transport wiring)`,
      );
    throw new Error(`--transport takes ${all}, got ${JSON.stringify(n)}`);
  }
  return names as TransportKind[];
}

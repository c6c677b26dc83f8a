/**
 * The raw NATS baseline: plain nats.js (`@nats-io/transport-node`) through
 * the same nats-server socketkit's NATS transport uses. One NATS message per
 * application message (the msgpack map of the raw baseline), published to a
 * subject every subscriber listens on; round trips are `nc.request()` answered
 * by `msg.respond()`. Each message is decoded once on receipt.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ArrivalCounter } from '../harness/counter.js';
import { rawBody, rawDecode } from './raw.js';
import { hrNow } from '../harness/stats.js';
import { timeRoundTrips } from '../harness/latency.js';
import type { Address, BroadcastResult, CountResult, TransportKind, WriteResult } from '../harness/types.js';

/** The producer yields to the event loop every 64 KiB offered and flushes (a PING/PONG) every this many bytes. */
const FLUSH_EVERY = 1024 * 1024;

/** A nats.js publisher that also answers requests. */
export class NatsRawServer {
  readonly #eventName: string;
  readonly #url: string;
  #nc: NatsConnection | undefined;
  #joined = 0;

  constructor(eventName: string, natsUrl: string | undefined) {
    if (natsUrl === undefined) throw new Error('nats-raw needs the nats-server URL');
    this.#eventName = eventName;
    this.#url = natsUrl;
  }

  /** Connects to nats-server and subscribes to the join and request subjects. */
  async start(transport: TransportKind): Promise<Address> {
    if (transport !== 'nats') throw new Error('nats-raw runs over NATS only');
    const nc = await connect({ servers: this.#url, name: `bench-raw-server-${this.#eventName}` });
    this.#nc = nc;
    const subject = `bench.${this.#eventName}`;
    nc.subscribe(`${subject}.join`, { callback: () => void this.#joined++ });
    nc.subscribe(`${subject}.req`, {
      callback: (_err, msg) => {
        const req = rawDecode(msg.data);
        msg.respond(rawBody(this.#eventName, { ok: true }, undefined, req.id));
      },
    });
    await nc.flush();
    return { transport, servers: this.#url, eventName: this.#eventName };
  }

  /** Subscribers that announced themselves after their subscription was in place. */
  clientCount(): number {
    return this.#joined;
  }

  /** `nc.publish(subject, body)` × count; yields every `drainEveryBytes`, `await nc.flush()` every 1 MiB. */
  async broadcast(count: number, data: Record<string, unknown>, drainEveryBytes: number): Promise<BroadcastResult> {
    const nc = this.#nc!;
    const subject = `bench.${this.#eventName}`;
    let frameBytes = 0;
    let since = 0;
    let sinceFlush = 0;
    const t0 = hrNow();
    for (let i = 0; i < count; i++) {
      const body = rawBody(this.#eventName, data);
      nc.publish(subject, body);
      frameBytes = body.length;
      since += body.length;
      sinceFlush += body.length;
      if (since >= drainEveryBytes) {
        since = 0;
        if (sinceFlush >= FLUSH_EVERY) {
          sinceFlush = 0;
          await nc.flush();
        } else {
          await new Promise((r) => setImmediate(r));
        }
      }
    }
    return { t0, t1: hrNow(), frameBytes };
  }

  armIngress(): void {
    throw new Error('no ingress scenario for nats-raw');
  }

  waitIngress(): Promise<CountResult> {
    return Promise.reject(new Error('no ingress scenario for nats-raw'));
  }

  /** Closes the connection. */
  async stop(): Promise<void> {
    await this.#nc?.close();
  }
}

/** A nats.js subscriber counting broadcasts; also sends requests. */
export class NatsRawClient {
  readonly #nc: NatsConnection;
  readonly #eventName: string;
  readonly #arrivals = new ArrivalCounter();

  private constructor(nc: NatsConnection, eventName: string) {
    this.#nc = nc;
    this.#eventName = eventName;
  }

  /** Connects, subscribes, and announces itself once the subscription is in place. */
  static async connect(address: Address): Promise<NatsRawClient> {
    if (address.transport !== 'nats') throw new Error('nats-raw runs over NATS only');
    const nc = await connect({ servers: address.servers, name: `bench-raw-client-${address.eventName}` });
    const c = new NatsRawClient(nc, address.eventName);
    const subject = `bench.${address.eventName}`;
    nc.subscribe(subject, {
      callback: (_err, msg) => {
        rawDecode(msg.data);
        c.#arrivals.hit();
      },
    });
    await nc.flush();
    nc.publish(`${subject}.join`);
    await nc.flush();
    return c;
  }

  /** See {@link RawClient.arm}. */
  arm(count: number): void {
    this.#arrivals.arm(count);
  }

  /** See {@link RawClient.waitCount}. */
  waitCount(): Promise<CountResult> {
    return this.#arrivals.wait();
  }

  /** `warmup` then `count` sequential `nc.request()` round trips; the measured ones in µs. */
  async requests(count: number, warmup: number, data: Record<string, unknown>): Promise<number[]> {
    const subject = `bench.${this.#eventName}.req`;
    let seq = 0;
    const one = async (): Promise<void> => {
      const msg = await this.#nc.request(subject, rawBody(this.#eventName, data, `r${++seq}`), { timeout: 10_000 });
      rawDecode(msg.data);
    };
    return timeRoundTrips(one, count, warmup);
  }

  write(): Promise<WriteResult> {
    return Promise.reject(new Error('no ingress scenario for nats-raw'));
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.#nc.close();
  }
}

/**
 * The zeromq.js peer: what a user would pick instead of socketkit. Broadcast
 * and fan-out are PUB/SUB (an XPUB with `noDrop`, so a full high-water mark
 * holds the producer instead of dropping, as socketkit's `drain()` does);
 * round trips are DEALER → ROUTER. Over `ipc://` (unix) and `tcp://`
 * (127.0.0.1). Bodies are the same msgpack map as the raw baseline (zeromq
 * frames them itself), decoded once per message on receipt.
 *
 * zeromq is an optional dependency of the bench: it is imported lazily, and a
 * failed import makes the coordinator skip the column with a note.
 */
import { join } from 'node:path';
import type * as Zmq from 'zeromq';
import { ArrivalCounter } from '../harness/counter.js';
import { rawBody, rawDecode } from './raw.js';
import { hrNow } from '../harness/stats.js';
import { timeRoundTrips } from '../harness/latency.js';
import type { Address, BroadcastResult, CountResult, TransportKind, WriteResult } from '../harness/types.js';

let zmqModule: typeof Zmq | undefined;

/** Loads zeromq.js; throws when it is not installed or its native addon does not load. */
export async function loadZmq(): Promise<typeof Zmq> {
  zmqModule ??= await import('zeromq');
  return zmqModule;
}

/** zeromq's version string, or the reason it cannot be used here. */
export async function zmqProbe(): Promise<{ ok: true; version: string } | { ok: false; error: string }> {
  try {
    const z = await loadZmq();
    const s = new z.Publisher();
    s.close();
    return { ok: true, version: z.version };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message.split('\n')[0]! : String(err) };
  }
}

/** A zeromq.js server: an XPUB for broadcasts, a ROUTER answering requests. */
export class ZmqServer {
  readonly #eventName: string;
  #pub: Zmq.XPublisher | undefined;
  #router: Zmq.Router | undefined;
  #subscribers = 0;

  constructor(eventName: string) {
    this.#eventName = eventName;
  }

  /** Binds both sockets on ipc:// in `socketDir` (unix) or on tcp://127.0.0.1 (ports chosen by the OS). */
  async start(transport: TransportKind, socketDir: string): Promise<Address> {
    if (transport === 'nats') throw new Error('zeromq does not run over NATS');
    const z = await loadZmq();
    const pub = new z.XPublisher({ noDrop: true, linger: 0 });
    pub.verbosity = 'allSubs';
    const router = new z.Router({ linger: 0 });
    this.#pub = pub;
    this.#router = router;
    const base = transport === 'unix' ? `ipc://${join(socketDir, this.#eventName)}` : 'tcp://127.0.0.1:*';
    await pub.bind(transport === 'unix' ? `${base}.pub` : base);
    await router.bind(transport === 'unix' ? `${base}.router` : base);
    // Every subscription message is one subscriber joining (verbose XPUB passes each one up).
    void (async () => {
      for await (const [msg] of pub) if (msg !== undefined && msg[0] === 1) this.#subscribers++;
    })().catch(() => undefined);
    void (async () => {
      for await (const [id, body] of router) {
        const req = rawDecode(body!);
        await router.send([id!, rawBody(this.#eventName, { ok: true }, undefined, req.id)]);
      }
    })().catch(() => undefined);
    const zmq = { pub: pub.lastEndpoint!, router: router.lastEndpoint! };
    return transport === 'unix'
      ? { transport, path: '', socketDir, eventName: this.#eventName, zmq }
      : { transport, host: '127.0.0.1', port: 0, eventName: this.#eventName, zmq };
  }

  /** Subscribers whose subscription reached the publisher (so they get every message from now on). */
  clientCount(): number {
    return this.#subscribers;
  }

  /**
   * `await pub.send(body)` × count (zeromq.js takes one send at a time). With
   * `noDrop`, a subscriber at its high-water mark makes the send fail with
   * EAGAIN instead of dropping; as libzmq's documentation asks, the message
   * is then sent again once the event loop has turned.
   */
  async broadcast(count: number, data: Record<string, unknown>): Promise<BroadcastResult> {
    const pub = this.#pub!;
    let frameBytes = 0;
    const t0 = hrNow();
    for (let i = 0; i < count; i++) {
      const body = rawBody(this.#eventName, data);
      frameBytes = body.length;
      for (;;) {
        try {
          await pub.send(body);
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== 'EAGAIN') throw err;
          await new Promise((r) => setImmediate(r));
        }
      }
    }
    return { t0, t1: hrNow(), frameBytes };
  }

  armIngress(): void {
    throw new Error('no ingress scenario for zeromq');
  }

  waitIngress(): Promise<CountResult> {
    return Promise.reject(new Error('no ingress scenario for zeromq'));
  }

  /** Closes both sockets. */
  async stop(): Promise<void> {
    this.#pub?.close();
    this.#router?.close();
  }
}

/** A zeromq.js client: a SUB counting broadcasts and a DEALER for round trips. */
export class ZmqClient {
  readonly #sub: Zmq.Subscriber;
  readonly #dealer: Zmq.Dealer;
  readonly #eventName: string;
  readonly #arrivals = new ArrivalCounter();
  #seq = 0;

  private constructor(z: typeof Zmq, address: Address) {
    this.#eventName = address.eventName;
    const sub = new z.Subscriber({ linger: 0 });
    this.#sub = sub;
    this.#dealer = new z.Dealer({ linger: 0 });
    sub.connect(address.zmq!.pub);
    sub.subscribe();
    this.#dealer.connect(address.zmq!.router);
    const arrivals = this.#arrivals;
    void (async () => {
      for await (const [body] of sub) {
        rawDecode(body!);
        arrivals.hit();
      }
    })().catch(() => undefined);
  }

  /** Connects a SUB (subscribed to everything) and a DEALER to a {@link ZmqServer}. */
  static async connect(address: Address): Promise<ZmqClient> {
    if (address.zmq === undefined) throw new Error('not a zeromq address');
    return new ZmqClient(await loadZmq(), address);
  }

  /** See {@link RawClient.arm}. */
  arm(count: number): void {
    this.#arrivals.arm(count);
  }

  /** See {@link RawClient.waitCount}. */
  waitCount(): Promise<CountResult> {
    return this.#arrivals.wait();
  }

  async #request(data: Record<string, unknown>): Promise<void> {
    const id = `r${++this.#seq}`;
    await this.#dealer.send(rawBody(this.#eventName, data, id));
    const [reply] = await this.#dealer.receive();
    if (rawDecode(reply!).reply_to !== id) throw new Error('zeromq: reply to another request');
  }

  /** `warmup` then `count` sequential DEALER → ROUTER round trips; the measured ones in µs. */
  requests(count: number, warmup: number, data: Record<string, unknown>): Promise<number[]> {
    return timeRoundTrips(() => this.#request(data), count, warmup);
  }

  write(): Promise<WriteResult> {
    return Promise.reject(new Error('no ingress scenario for zeromq'));
  }

  /** Closes both sockets. */
  async close(): Promise<void> {
    this.#sub.close();
    this.#dealer.close();
  }
}

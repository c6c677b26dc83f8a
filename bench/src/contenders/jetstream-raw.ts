/**
 * The raw JetStream baseline: a work-queue program written the obvious way
 * with `@nats-io/jetstream`: a work-queue stream and one durable pull
 * consumer; each worker `consume()`s with `max_messages` = prefetch, answers
 * on the submitter's reply subject (a header) with `nc.publish` and `ack()`s;
 * the submitter `js.publish`es with a msgID and waits for the answer on its
 * inbox. No leases, no fencing, no dead-letter handling, no outcome hand-over
 * confirmation: what the socketkit backend adds is what this one leaves out.
 */
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect, createInbox, headers, type NatsConnection } from '@nats-io/transport-node';
import { packValue, unpackValue } from '@socketkit/codec';

/** A running raw work queue: `send(body)` resolves with the worker's answer. */
export interface RawQueue {
  send(body: unknown): Promise<unknown>;
  close(): Promise<void>;
}

/** Starts `workers` raw workers (one NATS connection each) and a submitter, on stream `name`. */
export async function startRawQueue(
  servers: string,
  name: string,
  workers: number,
  prefetch: number,
): Promise<RawQueue> {
  const subject = `raw.${name}.task`;
  const admin = await connect({ servers });
  const jsm = await jetstreamManager(admin);
  await jsm.streams.add({ name, subjects: [subject], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
  await jsm.consumers.add(name, { durable_name: 'workers', ack_policy: AckPolicy.Explicit, filter_subject: subject });
  const conns: NatsConnection[] = [admin];
  const stops: (() => void)[] = [];
  for (let i = 0; i < workers; i++) {
    const nc = await connect({ servers });
    conns.push(nc);
    const consumer = await jetstream(nc).consumers.get(name, 'workers');
    const messages = await consumer.consume({ max_messages: prefetch });
    stops.push(() => void messages.stop());
    void (async () => {
      for await (const m of messages) {
        const body = unpackValue(m.data);
        const reply = m.headers?.get('reply');
        if (reply) nc.publish(reply, packValue({ id: m.headers?.get('id'), result: body }));
        m.ack();
      }
    })();
  }
  const nc = await connect({ servers });
  conns.push(nc);
  const js = jetstream(nc);
  const inbox = createInbox();
  const waiting = new Map<string, (v: unknown) => void>();
  nc.subscribe(inbox, {
    callback: (_e, m) => {
      const o = unpackValue(m.data) as { id: string; result: unknown };
      waiting.get(o.id)?.(o.result);
      waiting.delete(o.id);
    },
  });
  let seq = 0;
  return {
    send: async (body) => {
      const id = `${++seq}`;
      const h = headers();
      h.set('reply', inbox);
      h.set('id', id);
      const answer = new Promise((resolve) => waiting.set(id, resolve));
      await js.publish(subject, packValue(body), { headers: h, msgID: `${name}-${id}` });
      return answer;
    },
    close: async () => {
      for (const s of stops) s();
      await jsm.streams.delete(name).catch(() => undefined);
      await Promise.all(conns.map((c) => c.close()));
    },
  };
}

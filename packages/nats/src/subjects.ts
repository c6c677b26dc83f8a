import { validateEventName } from '@socketkit/protocol';

/** Default subject prefix. */
export const DEFAULT_SUBJECT_PREFIX = 'socketkit';

/** The NATS subjects of one event. */
export interface EventSubjects {
  /** Request/reply subject a client uses to open a stream (and a server to probe for a rival). */
  connect: string;
  /** Broadcasts: one publish that NATS fans out to every client. */
  all: string;
  /** Client → server bytes of stream `id` (`*` to subscribe to all). */
  toServer(id: string): string;
  /** Server → client bytes of stream `id`. */
  toClient(id: string): string;
}

/** Subjects derived from the event name: `<prefix>.<event>.{connect,all,s.<id>,c.<id>}`. */
export function subjectsFor(eventName: string, prefix = DEFAULT_SUBJECT_PREFIX): EventSubjects {
  validateEventName(eventName);
  const base = `${prefix}.${eventName}`;
  return {
    connect: `${base}.connect`,
    all: `${base}.all`,
    toServer: (id) => `${base}.s.${id}`,
    toClient: (id) => `${base}.c.${id}`,
  };
}

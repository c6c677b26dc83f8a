// Fake timers for the engine's unit tests: jest's clock, with nextTick,
// queueMicrotask and setImmediate left real (or streams stall).
import { afterEach, beforeEach, jest } from '@jest/globals';

/** What `jest.useFakeTimers` is given in every engine test. */
export const FAKE_TIMERS = { doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] } as const;

/** Fake timers around every test of the enclosing `describe` (or file). */
export function useFakeTimers(): void {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: [...FAKE_TIMERS.doNotFake] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });
}

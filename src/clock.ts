/**
 * The Clock port. Core code reads time and arms timers only through a Clock, so tests can
 * drive a fake one and the system one is the only place that touches Node's globals.
 */

/** Opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

export interface Clock {
  /** Wall-clock time, epoch milliseconds. Slot times are on this scale. */
  now(): number;
  /**
   * A monotonic reading in milliseconds (any origin). When present, the scheduler uses it to
   * tell a wall-clock step (NTP, VM resume) from time really passing.
   */
  monotonic?(): number;
  /** Calls `fn` once after `ms` milliseconds (callers keep `ms` ≤ 2^31-1). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** Largest delay a Node timer accepts; longer waits are split by the caller. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * The real clock: `Date.now()` for wall time, `performance.now()` for monotonic time, and Node
 * timers that are `unref`ed so an idle scheduler never keeps the process alive on its own.
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn: () => void, ms: number): TimerHandle => {
    const t = setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_DELAY));
    t.unref?.();
    return t;
  },
  clearTimeout: (handle: TimerHandle) => clearTimeout(handle as NodeJS.Timeout),
});

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
  /** Calls `fn` once after `ms` milliseconds (callers keep `ms` ≤ 2^31-1; the scheduler chains longer waits). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /**
   * Optional: resolves once `done` settles or `ms` of this clock's time have passed, whichever is
   * first (never rejects). The scheduler waits this way where `stop()` drains. A clock driven by
   * hand (the testing clock) advances itself here, timer by timer, while nothing else advances
   * it, so `await scheduler.stop()` cannot deadlock a test. Without it the scheduler races `done`
   * against a timer of this clock.
   */
  waitFor?(done: Promise<unknown>, ms: number): Promise<void>;
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

/**
 * `clock.setTimeout` for any duration: waits longer than {@link MAX_TIMER_DELAY} are chained,
 * re-reading `read` (monotonic when available) at each link. Returns a cancel function.
 */
export function setLongTimeout(clock: Clock, ms: number, fn: () => void, read: () => number = monotonicReader(clock)): () => void {
  const end = read() + ms;
  let handle: TimerHandle | undefined;
  let cancelled = false;
  const arm = (wait: number): void => {
    handle = clock.setTimeout(() => {
      handle = undefined;
      if (cancelled) return;
      const left = end - read();
      if (left > 0) arm(left);
      else fn();
    }, Math.min(Math.max(0, wait), MAX_TIMER_DELAY));
  };
  arm(ms);
  return () => {
    cancelled = true;
    if (handle !== undefined) clock.clearTimeout(handle);
    handle = undefined;
  };
}

/** Reads the clock's monotonic side when it has one, its wall time otherwise. */
export function monotonicReader(clock: Clock): () => number {
  return typeof clock.monotonic === 'function' ? clock.monotonic.bind(clock) : () => clock.now();
}

import type * as FakeTimers from '@sinonjs/fake-timers';
import { requirePeer } from './peer.cjs';
import { setLongTimeout, type Clock, type TimerHandle } from './clock.js';

// An optional peer dependency of syncwheel/testing: loaded here so a missing one says what to install.
const { createClock } = requirePeer<typeof FakeTimers>('@sinonjs/fake-timers', 'syncwheel/testing', '--save-dev @sinonjs/fake-timers');

/** Options of {@link createFakeClock}. */
export interface FakeClockOptions {
  /**
   * Initial wall-clock time, epoch ms.
   * @default 0
   */
  now?: number;
  /**
   * Most timers fired by one `runAll`/`tickAsync` before the fake clock assumes an endless loop.
   * @default 1_000_000
   */
  loopLimit?: number;
}

/** A {@link Clock} driven by the test, built on @sinonjs/fake-timers' standalone clock. */
export interface FakeClock extends Clock {
  monotonic(): number;
  /** Advances time by `ms`, firing due timers and letting promises settle between them. */
  tickAsync(ms: number): Promise<number>;
  /** Synchronous variant of {@link FakeClock.tickAsync}: promises do not settle in between. */
  tick(ms: number): number;
  /** Fires the next due timer (advancing time to it), letting promises settle. */
  nextAsync(): Promise<number>;
  /**
   * Moves time forward by `ms` as a blocked event loop would: timers due in between fire once,
   * late, at the end (promises settle only afterwards; `await tickAsync(0)` to let them).
   */
  jump(ms: number): number;
  /** Steps the wall clock to `ms` without time passing: monotonic time and timer delays are kept. */
  setSystemTime(ms: number): void;
  /** Lets pending promise callbacks run without advancing time. */
  flush(): Promise<void>;
  /** Number of timers armed on this clock. */
  countTimers(): number;
  /**
   * Resolves once `done` settles or `ms` of fake time have passed. While it waits and nothing
   * else advances the clock (no `tickAsync` in between), it advances the clock itself to the
   * next timer, one at a time, in order. This is how `await scheduler.stop()` settles in a test
   * even when a sync sleeps on this clock.
   */
  waitFor(done: Promise<unknown>, ms: number): Promise<void>;
}

/**
 * Creates a fake clock for tests. It is never installed globally: only code that receives it
 * (the scheduler's `clock` option) sees fake time.
 *
 * @example
 * const clock = createFakeClock({ now: Date.parse('2026-03-01T00:00:00Z') });
 * const scheduler = createScheduler({ clock, executor });
 * await clock.tickAsync(60_000);
 */
export function createFakeClock(options: FakeClockOptions = {}): FakeClock {
  const inner = createClock(options.now ?? 0, options.loopLimit ?? 1_000_000);
  const perf = (inner as unknown as { performance?: { now(): number } }).performance;
  const hr = (inner as unknown as { hrtime?: () => [number, number] }).hrtime;
  const monotonic = perf
    ? () => perf.now()
    : () => {
        const [s, ns] = hr!();
        return s * 1000 + ns / 1e6;
      };
  /** Calls of the test's own drivers (tickAsync, nextAsync…) in progress: waitFor never competes with them. */
  let driving = 0;
  const drive = async <T>(step: () => Promise<T>): Promise<T> => {
    driving++;
    try {
      return await step();
    } finally {
      driving--;
    }
  };
  const clock: FakeClock = {
    now: () => inner.now,
    monotonic,
    setTimeout: (fn: () => void, ms: number): TimerHandle => inner.setTimeout(fn, ms),
    clearTimeout: (handle: TimerHandle) => inner.clearTimeout(handle as never),
    tickAsync: (ms: number) => drive(() => inner.tickAsync(ms)),
    tick: (ms: number) => inner.tick(ms),
    nextAsync: () => drive(() => inner.nextAsync()),
    jump: (ms: number) => inner.jump(ms),
    setSystemTime: (ms: number) => inner.setSystemTime(ms),
    flush: async () => {
      for (let i = 0; i < 20; i++) await Promise.resolve();
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
    countTimers: () => inner.countTimers(),
    waitFor: async (done: Promise<unknown>, ms: number) => {
      let finished = false;
      const finish = () => {
        finished = true;
      };
      done.then(finish, finish);
      const cancel = setLongTimeout(clock, ms, finish, monotonic);
      try {
        let idle = 0;
        while (!finished) {
          const before = monotonic();
          // A real macrotask: promise chains (and real I/O callbacks) settle, and a test that
          // drives the clock itself gets the chance to.
          await new Promise<void>((resolve) => setImmediate(resolve));
          idle = driving === 0 && monotonic() === before ? idle + 1 : 0;
          // Advance only when nothing else has for two turns in a row.
          if (finished || idle < 2) continue;
          idle = 0;
          await inner.nextAsync();
        }
      } finally {
        cancel();
      }
    },
  };
  return clock;
}

/**
 * The scheduler's one authority for time. Slots are wall-clock instants (shared with replicas
 * and humans); everything that waits runs on the clock's monotonic side, so a wall-clock step
 * (NTP, VM resume) never fires a timer early and never stalls one.
 *
 * `now()` is the scheduler's wall time: the monotonic reading plus an offset fixed at creation.
 * `observe()`, called at every wake and host call, compares it with the clock's wall reading;
 * a disagreement of at least `clockJumpThreshold` is a step. With `'move-grid'` the offset takes
 * the step (slots are renamed by it, once, through `onStep`); with `'keep-grid'` it does not
 * (the stored grid stays what the other replicas follow). Timer deadlines never move.
 */
import { setLongTimeout, type Clock } from '../clock.js';
import type { ClockStepMode } from './options.js';

export class SchedulerTime {
  readonly #clock: Clock;
  readonly #threshold: number;
  readonly #mode: ClockStepMode;
  readonly #mono: (() => number) | undefined;
  /** Wall minus monotonic, as the scheduler names slots. */
  #offset: number;
  /** Total of the steps the grid moved by after each generation (index = generation). */
  readonly #moved: number[] = [0];

  constructor(clock: Clock, threshold: number, mode: ClockStepMode) {
    this.#clock = clock;
    this.#threshold = threshold;
    this.#mode = mode;
    this.#mono = typeof clock.monotonic === 'function' ? clock.monotonic.bind(clock) : undefined;
    this.#offset = this.#mono ? clock.now() - this.#mono() : 0;
  }

  /** The scheduler's wall time, epoch ms (slot names, timestamps). */
  now(): number {
    return this.wallAt(this.mono());
  }

  /** {@link now} at the monotonic reading `mono` (one clock read serving both). */
  wallAt(mono: number): number {
    return this.#mono ? Math.floor(mono + this.#offset) : mono;
  }

  /** The monotonic reading timers are keyed by (the wall clock when the clock has none). */
  mono(): number {
    return this.#mono ? this.#mono() : this.#clock.now();
  }

  /**
   * Monotonic deadline of the wall instant `at` (scheduler scale), rounded up to a whole ms: a
   * timer keyed by it never fires while `now()` is still before `at`.
   */
  deadlineOf(at: number): number {
    return this.#mono ? Math.ceil(at - this.#offset) : at;
  }

  /**
   * Looks for a wall-clock step since the last look; returns its size (ms, positive: forward)
   * when one of at least the threshold happened, else 0. With `'move-grid'` the scheduler's wall
   * time follows the step from here on.
   */
  observe(): number {
    if (!this.#mono) return 0;
    const skew = Math.round(this.#clock.now() - (this.#mono() + this.#offset));
    if (Math.abs(skew) < this.#threshold) return 0;
    if (this.#mode === 'move-grid') {
      this.#offset += skew;
      this.#moved.push(this.#moved[this.#moved.length - 1]! + skew);
    }
    return skew;
  }

  /** Counts the steps the grid moved by; read it before an await to learn of steps during it. */
  get generation(): number {
    return this.#moved.length - 1;
  }

  /** How far slot names moved since `generation` was read (0 when no step moved the grid). */
  movedSince(generation: number): number {
    return this.#moved[this.#moved.length - 1]! - (this.#moved[generation] ?? 0);
  }

  /** Whether a step moves the grid. */
  get movesGrid(): boolean {
    return this.#mode === 'move-grid';
  }

  /**
   * Calls `fn` once `ms` of monotonic time have passed, chaining clock timers for waits past the
   * platform limit (2^31-1 ms), so no wait is ever cut short. Returns a cancel function.
   */
  after(ms: number, fn: () => void): () => void {
    return setLongTimeout(this.#clock, ms, fn, () => this.mono());
  }
}

/**
 * Waits for `done` to settle or `ms` of clock time, whichever comes first (never rejects). A
 * clock that implements `waitFor` (the testing clock) drives itself meanwhile, so a drain on a
 * fake clock cannot deadlock a test.
 */
export function waitBounded(clock: Clock, done: Promise<unknown>, ms: number, read?: () => number): Promise<void> {
  if (clock.waitFor) return clock.waitFor(done, ms);
  return new Promise<void>((resolve) => {
    const cancel = setLongTimeout(clock, ms, resolve, read);
    done.then(
      () => (cancel(), resolve()),
      () => (cancel(), resolve()),
    );
  });
}

/**
 * Queue rate limits (`queues: { api: { rate: { runs: 10, per: 'PT1S' } } }`): a token bucket per
 * queue and per scheduler instance (per replica), on monotonic time, and the one clock timer that
 * wakes the dispatcher when the next token is due (no busy loop).
 */
import type { SchedulerTime } from './time.js';

/**
 * `runs` tokens, one back every `per / runs` ms (continuous refill, counted in whole tokens): a
 * burst of up to `runs` runs, then one every `per / runs` ms. Pure: time is an argument.
 */
export class TokenBucket {
  readonly capacity: number;
  /** ms per token. */
  readonly step: number;
  #tokens: number;
  /** When `#tokens` was last brought up to date (a token boundary while not full). */
  #at: number;

  constructor(runs: number, per: number, now: number) {
    this.capacity = runs;
    this.step = per / runs;
    this.#tokens = runs;
    this.#at = now;
  }

  #refill(now: number): void {
    if (this.#tokens >= this.capacity) {
      this.#at = now;
      return;
    }
    const earned = Math.floor((now - this.#at) / this.step);
    if (earned <= 0) return;
    this.#tokens = Math.min(this.capacity, this.#tokens + earned);
    this.#at = this.#tokens >= this.capacity ? now : this.#at + earned * this.step;
  }

  /** Whether a run may start at `now`. */
  has(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= 1;
  }

  /** Takes one token (the caller checked {@link has}). */
  take(now: number): void {
    this.#refill(now);
    this.#tokens--;
  }

  /** ms from `now` until the next token (0 when one is there). */
  wait(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.max(1, Math.ceil(this.#at + this.step - now));
  }
}

/** One timer for the next token any waiting queue needs; re-armed only for an earlier one. */
export class TokenTimer {
  readonly #time: SchedulerTime;
  readonly #fire: () => void;
  #cancel: (() => void) | undefined;
  #due = Number.POSITIVE_INFINITY;

  constructor(time: SchedulerTime, fire: () => void) {
    this.#time = time;
    this.#fire = fire;
  }

  /** Arms the timer `wait` ms from now (null: nothing waits for a token). */
  arm(wait: number | null): void {
    if (wait === null) return;
    const due = this.#time.mono() + wait;
    if (this.#cancel && due >= this.#due) return;
    this.#cancel?.();
    this.#due = due;
    this.#cancel = this.#time.after(wait, () => {
      this.#cancel = undefined;
      this.#due = Number.POSITIVE_INFINITY;
      this.#fire();
    });
  }

  clear(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    this.#due = Number.POSITIVE_INFINITY;
  }
}

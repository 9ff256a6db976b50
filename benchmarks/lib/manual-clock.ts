import type { Clock, TimerHandle } from '../../src/index.js';

/** A hand-driven Clock for microbenchmarks: time moves only when `runNext()` jumps to the next armed timer. */
export class ManualClock implements Clock {
  t: number;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #seq = 0;
  constructor(t = 1_700_000_000_000) {
    this.t = t;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }
  /**
   * Runs timers wake by wake for `ms` of clock time, letting the microtasks and immediates each
   * wake queued run before the next one (a scheduler's runs end there).
   */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    while (this.t < end) {
      if (!this.runNext()) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  /** Jumps to the earliest armed timer and runs it; false when none is armed. */
  runNext(): boolean {
    let bestId = -1;
    let best: { at: number; fn: () => void } | undefined;
    for (const [id, t] of this.#timers) if (!best || t.at < best.at) (best = t), (bestId = id);
    if (!best) return false;
    this.#timers.delete(bestId);
    if (best.at > this.t) this.t = best.at;
    best.fn();
    return true;
  }
}

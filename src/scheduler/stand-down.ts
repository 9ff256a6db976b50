/**
 * Standing down while this process' clock disagrees with the storage's (a claim refused with
 * `ClockSkewError`): the scheduler leaves the single-flight's membership, so the other replicas
 * take its fabrics, and takes no locks and makes no claims, except one probe per
 * `operationTimeout` (a normal run attempt) to see whether the clocks agree again. The first
 * claim that succeeds ends it and the scheduler joins the membership again.
 */
import type { Core } from './core.js';

export class StandDown {
  #active = false;
  /** Monotonic time of the next probe. */
  #probeAt = 0;

  get active(): boolean {
    return this.#active;
  }

  /** Whether a run may go on to take its lock (false: skip it). Lets one probe through per interval. */
  mayTry(core: Core): boolean {
    if (!this.#active) return true;
    const now = core.time.mono();
    if (now < this.#probeAt) return false;
    this.#probeAt = now + core.opts.operationTimeout;
    return true;
  }

  /** A claim was refused for clock skew. */
  enter(core: Core, leave: () => Promise<void>): void {
    this.#probeAt = core.time.mono() + core.opts.operationTimeout;
    if (this.#active) return;
    this.#active = true;
    void leave();
  }

  /** Forgets a stand-down (a new `start()`: membership is joined afresh). */
  reset(): void {
    this.#active = false;
    this.#probeAt = 0;
  }

  /** A claim succeeded: the clocks agree again. */
  leave(join: () => Promise<void>): void {
    if (!this.#active) return;
    this.#active = false;
    void join();
  }
}

/** Tells the single-flight this scheduler runs on it (`start`) or no longer does (`stop`); bounded, never rejects. */
export async function singleFlightMembership(core: Core, call: 'start' | 'stop'): Promise<void> {
  const sf = core.opts.singleFlight;
  try {
    const done = typeof sf[call] === 'function' ? sf[call]!() : undefined;
    if (done) await core.io.bound('lock', done);
  } catch (error) {
    core.reportError('lock', error);
  }
}

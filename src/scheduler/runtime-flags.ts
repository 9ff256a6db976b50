/**
 * The small fields of a fabric's runtime (fabric-runtime.ts), packed in one integer: removed,
 * held, what its armed entry is for, why missed slots went unserved, stale, what it adds to the
 * gauges and the attempt number. A million runtimes then carry one number for all of them.
 */
import type { MissedReason } from '../events.js';

/** What the armed entry is for: the next grid slot, or the retry of a failed one. */
export type TimerKind = 'slot' | 'retry';

/** The missed reasons a runtime can hold, by index (packed in its flags). */
const MISSED: readonly MissedReason[] = ['late', 'downtime', 'paused', 'overrun', 'cleared'];
const REMOVED = 1;
const HELD = 2;
const RETRY = 4;
const MISSED_SHIFT = 3;
const MISSED_MASK = 7 << MISSED_SHIFT;
const STALE = 64;
/** What the runtime adds to its scheduler's gauges (see gauges.ts), 5 bits; 0 while not counted. */
const GAUGE_SHIFT = 7;
const GAUGE_MASK = 31 << GAUGE_SHIFT;
const ATTEMPT_SHIFT = 12;
/** The largest attempt number the flags hold (20 bits); a later attempt reads as this. */
export const MAX_ATTEMPT = (1 << (32 - ATTEMPT_SHIFT)) - 1;

/** The packed flags a FabricRuntime extends (see the module comment). */
export class RuntimeFlags {
  /** removed, held, retry, missed reason, stale, gauge and attempt, packed (see the accessors). */
  #flags = 1 << ATTEMPT_SHIFT;

  /** Seen past its staleness bound (`fabric:stale` emitted for this crossing). */
  get stale(): boolean {
    return (this.#flags & STALE) !== 0;
  }

  /** Sets {@link stale} only (the runtime tells the gauges: FabricRuntime.setStale). */
  protected setStaleFlag(v: boolean): void {
    this.#flags = v ? this.#flags | STALE : this.#flags & ~STALE;
  }

  /** What this runtime adds to its scheduler's gauges now (gauges.ts; 0: not counted). */
  get gauge(): number {
    return (this.#flags & GAUGE_MASK) >> GAUGE_SHIFT;
  }
  set gauge(v: number) {
    this.#flags = (this.#flags & ~GAUGE_MASK) | (v << GAUGE_SHIFT);
  }

  /**
   * In its scheduler's table of fabrics (`core.fabrics`) now: the gauges count exactly the
   * runtimes in the table (added with it, uncounted when it is forgotten or the table cleared),
   * so a run checks this bit instead of looking its fabric up by id on every start.
   */
  get tracked(): boolean {
    return (this.#flags & GAUGE_MASK) !== 0;
  }

  /** Removed in this process: never armed or run again (a new upsert makes a new runtime). */
  get removed(): boolean {
    return (this.#flags & REMOVED) !== 0;
  }
  set removed(v: boolean) {
    this.#flags = v ? this.#flags | REMOVED : this.#flags & ~REMOVED;
  }

  /** Paused: no entry armed; resuming re-arms from the stored state. */
  get held(): boolean {
    return (this.#flags & HELD) !== 0;
  }
  set held(v: boolean) {
    this.#flags = v ? this.#flags | HELD : this.#flags & ~HELD;
  }

  /** What the armed entry is for: the next grid slot, or the retry of a failed one. */
  get kind(): TimerKind {
    return (this.#flags & RETRY) !== 0 ? 'retry' : 'slot';
  }
  set kind(v: TimerKind) {
    this.#flags = v === 'retry' ? this.#flags | RETRY : this.#flags & ~RETRY;
  }

  /** Why slots found missed at the next wake went unserved (downtime after a start, a pause). */
  get missedReason(): MissedReason {
    return MISSED[(this.#flags & MISSED_MASK) >> MISSED_SHIFT]!;
  }
  set missedReason(v: MissedReason) {
    this.#flags = (this.#flags & ~MISSED_MASK) | (MISSED.indexOf(v) << MISSED_SHIFT);
  }

  /** Attempt number the armed entry will run with (at most {@link MAX_ATTEMPT}). */
  get attempt(): number {
    return this.#flags >>> ATTEMPT_SHIFT;
  }
  set attempt(v: number) {
    this.#flags = (this.#flags & ((1 << ATTEMPT_SHIFT) - 1)) | (Math.min(v, MAX_ATTEMPT) << ATTEMPT_SHIFT);
  }
}

/** The timing wheel's public shapes: its options and its entries. */
import type { Clock } from './clock.js';

export interface TimingWheelOptions<T> {
  clock: Clock;
  /**
   * The time scale of due times. The scheduler keys its wheel by the clock's monotonic side, so
   * a wall-clock step never moves a deadline (and does its own step handling).
   * @default () => clock.now()
   */
  now?: () => number;
  /** Called with the entries that came due: in due-time order, and in scheduling order within a tick. */
  onExpire: (items: T[], now: number) => void;
  /**
   * Called after a wall-clock step of `skewMs` was detected and every entry shifted by it. Step
   * detection is on only when this is given (and the clock has a monotonic side).
   */
  onClockJump?: (skewMs: number, now: number) => void;
  /**
   * Slot width, ms: entries due within one tick fire together, at the tick's end (never early).
   * @default 1
   */
  tickMs?: number;
  /**
   * Ignored: the first, hierarchical version had this many buckets per level. Kept so existing
   * callers still compile.
   * @default 64
   * @deprecated
   */
  wheelSize?: number;
  /**
   * Smallest wall-vs-monotonic disagreement treated as a clock step, ms.
   * @default 1000
   */
  clockJumpThreshold?: number;
}

/** A scheduled entry; pass it to {@link TimingWheel.cancel}. */
export interface WheelEntry<T> {
  readonly item: T;
  readonly dueAt: number;
}

/**
 * The fields of a wheel entry. An object that has them, with `item` itself and `pos` -1 while
 * unscheduled, can be passed as `reuse` to {@link TimingWheel.schedule} and is then its own
 * entry (the scheduler's per-fabric runtime is, which saves an object per fabric).
 */
export interface IntrusiveEntry<T> extends WheelEntry<T> {
  dueAt: number;
  /** Heap index while past the horizon, else -1 (not scheduled), -2 (in a slot), -3 (ready). */
  pos: number;
  prev: IntrusiveEntry<T> | null;
  next: IntrusiveEntry<T> | null;
}

/**
 * The failure breaker (`breaker: { after, maxProbeInterval }`): after `after` consecutive failed
 * runs (retries count) a fabric is only probed, on slots of its own grid, at intervals that
 * double from two grid intervals up to `maxProbeInterval` (never more often than its grid); the
 * first success closes it. Its state is derived from what every record stores
 * (`consecutiveFailures`, `lastAttemptAt`), so every replica sharing the storage honours it
 * without a field of its own.
 *
 * The math takes "the next slot at or after t" as a parameter; the one call to the grid is in
 * {@link nextProbeOf}.
 */
import type { FabricRecord, FabricState } from '../storage/types.js';
import type { Core } from './core.js';
import type { FabricRuntime } from './fabric-runtime.js';
import { cadenceOf } from './cadence.js';

/** `breaker` option of the scheduler. */
export interface BreakerOptions {
  /**
   * Consecutive failed runs (retries count) after which the fabric is only probed.
   */
  after: number;
  /**
   * Longest wait between two probes, ms or an ISO 8601 duration (`'PT5M'`); the waits double
   * from two grid intervals up to it, and are never shorter than the fabric's grid interval.
   */
  maxProbeInterval: number | string;
}

/** The breaker after validation. */
export interface ResolvedBreaker {
  readonly after: number;
  readonly maxProbeInterval: number;
}

/** A fabric behind the breaker, as `FabricStatus.breaker` shows it. */
export interface BreakerState {
  /** Consecutive failed runs. */
  readonly failures: number;
  /** Wait between the last attempt and the next probe, ms. */
  readonly probeInterval: number;
  /** The next probe: a slot of the fabric's grid, epoch ms. */
  readonly nextProbeAt: number;
}

/** The wait before the next probe after `failures` consecutive failures, ms; null while the breaker is closed. */
export function probeInterval(breaker: ResolvedBreaker | false, failures: number, interval: number): number | null {
  if (!breaker || failures < breaker.after) return null;
  const doubled = interval * 2 ** Math.min(failures - breaker.after + 1, 40);
  return Math.max(interval, Math.min(breaker.maxProbeInterval, doubled));
}

/**
 * The breaker of a fabric with `failures` consecutive failures whose last attempt started at
 * `lastAttemptAt`: the next probe is the latest slot at or before `lastAttemptAt + probeInterval`
 * (the first slot after `lastAttemptAt + probeInterval - interval`, by `nextSlotAtOrAfter`), so a
 * run that started a few ms late does not push its probe a whole slot later; it is always after
 * the last attempt (the wait is at least one interval). Null while closed.
 */
export function breakerState(breaker: ResolvedBreaker | false, failures: number, lastAttemptAt: number | null, interval: number, nextSlotAtOrAfter: (t: number) => number): BreakerState | null {
  const wait = probeInterval(breaker, failures, interval);
  if (wait === null || lastAttemptAt === null) return null;
  return { failures, probeInterval: wait, nextProbeAt: nextSlotAtOrAfter(lastAttemptAt + wait - interval + 1) };
}

/** Whether a failed run that makes `failures` consecutive failures opens (or keeps open) the breaker: no retry then. */
export function isOpen(breaker: ResolvedBreaker | false, failures: number): boolean {
  return breaker !== false && failures >= breaker.after;
}

/** The breaker of a stored record (its own grid), or null while closed. */
export function nextProbeOf(breaker: ResolvedBreaker | false, record: Pick<FabricRecord, 'definition'> & { readonly state: Readonly<FabricState> }): BreakerState | null {
  const s = record.state;
  if (!isOpen(breaker, s.consecutiveFailures)) return null;
  const cadence = cadenceOf(record.definition);
  const anchor = s.anchorAt ?? s.lastSlotAt ?? s.lastAttemptAt ?? 0;
  // A calendar has no fixed interval: its gap between the two slots after the last attempt serves.
  let interval = cadence.interval;
  if (interval === null) {
    const next = cadence.slotAtOrAfter(anchor, (s.lastAttemptAt ?? anchor) + 1);
    interval = cadence.slotAtOrAfter(anchor, next + 1) - next;
  }
  return breakerState(breaker, s.consecutiveFailures, s.lastAttemptAt, interval, (t) => cadence.slotAtOrAfter(anchor, t));
}

/** `due`, or the fabric's next probe when the breaker holds it back until later. */
export function deferByBreaker(core: Core, rt: FabricRuntime, due: number): number {
  // The failure count first: the record object is made only for a fabric behind an open breaker.
  if (rt.status === undefined || !isOpen(core.opts.breaker, rt.consecutiveFailures)) return due;
  const b = nextProbeOf(core.opts.breaker, rt.record!);
  return b !== null && b.nextProbeAt > due ? b.nextProbeAt : due;
}

/** Whether a scheduled or catch-up run for `slot` must wait for the breaker's probe (every replica checks it at its claim). */
export function heldByBreaker(breaker: ResolvedBreaker | false, current: FabricRecord, slot: number): boolean {
  if (!isOpen(breaker, current.state.consecutiveFailures)) return false;
  const b = nextProbeOf(breaker, current);
  return b !== null && slot < b.nextProbeAt;
}

/**
 * After an outcome was written: counts a run made behind the breaker as a probe, and emits
 * `breaker:opened` / `breaker:closed` when it changed.
 */
export function noteOutcome(core: Core, rt: FabricRuntime, before: number, written: FabricRecord, at: number): void {
  const breaker = core.opts.breaker;
  if (!breaker) return;
  const wasOpen = isOpen(breaker, before);
  if (wasOpen) core.metrics.breakerProbe();
  const now = isOpen(breaker, written.state.consecutiveFailures);
  if (!wasOpen && now) {
    const b = nextProbeOf(breaker, written)!;
    core.emit('breaker:opened', { fabricId: rt.fabric.id, failures: b.failures, probeInterval: b.probeInterval, nextProbeAt: b.nextProbeAt, at });
  } else if (wasOpen && written.state.consecutiveFailures === 0) {
    core.emit('breaker:closed', { fabricId: rt.fabric.id, failures: before, at });
  }
}

/**
 * Whether a claim must be declined before it is made (checked on the freshest stored record, so
 * every replica agrees): a run made for a sync request that was served already
 * (`'already-claimed'`), or a scheduled or catch-up run before the breaker's next probe
 * (`'breaker'`). Null: go on with the claim.
 */
export function claimHeldBack(breaker: ResolvedBreaker | false, current: FabricRecord, run: { readonly forRequest?: boolean; readonly trigger: string; readonly scheduledAt: number }): 'already-claimed' | 'breaker' | null {
  if (run.forRequest && current.state.requestedAt === undefined) return 'already-claimed';
  if ((run.trigger === 'schedule' || run.trigger === 'catch-up') && heldByBreaker(breaker, current, run.scheduledAt)) return 'breaker';
  return null;
}

/**
 * Pure catch-up planning: what to do with a slot seen late (after downtime, a pause, a stall or a
 * long backlog), by `missedRunPolicy`. Needs no clock: `now` is an argument.
 */
import type { MissedRunPolicy } from './options.js';
import { latestSlotAtOrBefore } from './grid.js';

/** A run of consecutive grid slots not served. */
export interface MissedSlots {
  readonly first: number;
  readonly last: number;
  readonly count: number;
}

export interface CatchUpPlan {
  /** The slot to serve now, or null to serve none (wait for `next`). */
  readonly serve: number | null;
  /** Slots dropped by the policy (null when none). */
  readonly missed: MissedSlots | null;
  /** With policy `'all'`: serve every slot up to this one back to back; otherwise null. */
  readonly catchUpUntil: number | null;
  /** The slot to arm when `serve` is null. */
  readonly next: number;
}

/**
 * Plans the slot `slot` (due, on a grid of `interval`) seen at `now >= slot`: on time when no
 * later slot has come due yet; otherwise by policy: `'skip'` drops every due slot, `'once'` serves
 * the latest and drops the rest, `'all'` serves up to `maxCatchUp` of the latest in order.
 */
export function planCatchUp(policy: MissedRunPolicy, maxCatchUp: number, slot: number, interval: number, now: number): CatchUpPlan {
  const latest = latestSlotAtOrBefore(slot, interval, now) ?? slot;
  const extra = Math.round((latest - slot) / interval);
  if (extra <= 0) return { serve: slot, missed: null, catchUpUntil: null, next: slot + interval };
  switch (policy) {
    case 'skip':
      return { serve: null, missed: { first: slot, last: latest, count: extra + 1 }, catchUpUntil: null, next: latest + interval };
    case 'once':
      return { serve: latest, missed: { first: slot, last: latest - interval, count: extra }, catchUpUntil: null, next: latest + interval };
    case 'all': {
      const first = Math.max(slot, latest - (maxCatchUp - 1) * interval);
      const dropped = Math.round((first - slot) / interval);
      return { serve: first, missed: dropped > 0 ? { first: slot, last: first - interval, count: dropped } : null, catchUpUntil: latest, next: first + interval };
    }
  }
}

/**
 * A run that waited for a lane: it serves the latest slot that has come due meanwhile and the
 * older ones count as missed (`late`). Returns null when nothing newer came due.
 */
export function planWaited(scheduledAt: number, interval: number, now: number): { serve: number; missed: MissedSlots } | null {
  const latest = latestSlotAtOrBefore(scheduledAt, interval, now) ?? scheduledAt;
  if (latest <= scheduledAt) return null;
  return { serve: latest, missed: { first: scheduledAt, last: latest - interval, count: Math.round((latest - scheduledAt) / interval) } };
}

/** The slots from `first` up to (not including) `next`, on a grid of `interval`; null when none. */
export function slotsBefore(first: number, next: number, interval: number): MissedSlots | null {
  const count = Math.round((next - first) / interval);
  return count > 0 ? { first, last: next - interval, count } : null;
}

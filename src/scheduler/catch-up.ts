/**
 * Pure catch-up planning: what to do with a slot seen late (after downtime, a pause, a stall or a
 * long backlog), by `missedRunPolicy` and `catchUpWindow`. Needs no clock: `now` is an argument.
 * Slots come from the fabric's {@link Cadence}; a slot is its own anchor here (the slots after a
 * slot are the cadence's points after it).
 */
import type { MissedRunPolicy } from './options.js';
import type { Cadence, MissedSlots } from './cadence.js';

export type { MissedSlots } from './cadence.js';

export interface CatchUpPlan {
  /** The slot to serve now, or null to serve none (wait for `next`). */
  readonly serve: number | null;
  /** Slots dropped by the policy (null when none). */
  readonly missed: MissedSlots | null;
  /** Slots dropped because they are older than the catch-up window (null when none). */
  readonly expired: MissedSlots | null;
  /** With policy `'all'`: serve every slot up to this one back to back; otherwise null. */
  readonly catchUpUntil: number | null;
  /** The slot to arm when `serve` is null. */
  readonly next: number;
}

/** How a fabric's late slots are handled: its own fields, else the scheduler's options. */
export interface CatchUpRules {
  readonly policy: MissedRunPolicy;
  readonly maxCatchUp: number;
  /** Slots older than `now - window` are dropped (reported as `'catch-up-window'`); Infinity = no limit. */
  readonly window: number;
}

/** The slot after `slot` (a slot of `c`). */
export function slotAfter(c: Cadence, slot: number): number {
  return c.slotAtOrAfter(slot, slot + 1);
}

/**
 * Whether `slot`, seen at `now`, is simply on time: no later slot has come due and it is inside the
 * catch-up window. (What {@link planCatchUp} answers then, without planning.)
 */
export function isOnTime(c: Cadence, rules: CatchUpRules, slot: number, now: number): boolean {
  return now < slotAfter(c, slot) && (rules.window === Number.POSITIVE_INFINITY || slot >= now - rules.window);
}

/**
 * Plans the slot `slot` (due) seen at `now >= slot`. Slots older than `now - window` are dropped
 * first (`expired`). Of the others: on time when no later slot has come due yet; otherwise by
 * policy: `'skip'` drops every due slot, `'once'` serves the latest and drops the rest, `'all'`
 * serves up to `maxCatchUp` of the latest in order.
 */
export function planCatchUp(c: Cadence, rules: CatchUpRules, slot: number, now: number): CatchUpPlan {
  const latest = c.latestAtOrBefore(slot, now) ?? slot;
  const cutoff = rules.window === Number.POSITIVE_INFINITY ? Number.NEGATIVE_INFINITY : now - rules.window;
  let first = slot;
  let expired: MissedSlots | null = null;
  if (slot < cutoff) {
    first = c.slotAtOrAfter(slot, cutoff);
    expired = c.slotsIn(slot, slot, Math.min(first, latest + 1));
    if (first > latest) return { serve: null, missed: null, expired, catchUpUntil: null, next: first };
  }
  if (latest <= first) return { serve: first, missed: null, expired, catchUpUntil: null, next: slotAfter(c, first) };
  switch (rules.policy) {
    case 'skip':
      return { serve: null, missed: c.slotsIn(first, first, latest + 1), expired, catchUpUntil: null, next: slotAfter(c, latest) };
    case 'once':
      return { serve: latest, missed: c.slotsIn(first, first, latest), expired, catchUpUntil: null, next: slotAfter(c, latest) };
    case 'all': {
      const from = c.back(first, latest, rules.maxCatchUp - 1, first);
      return { serve: from, missed: c.slotsIn(first, first, from), expired, catchUpUntil: latest, next: slotAfter(c, from) };
    }
  }
}

/**
 * A run that waited for a lane: it serves the latest slot that has come due meanwhile and the
 * older ones count as missed (`late`). Returns null when nothing newer came due.
 */
export function planWaited(c: Cadence, scheduledAt: number, now: number): { serve: number; missed: MissedSlots } | null {
  const latest = c.latestAtOrBefore(scheduledAt, now) ?? scheduledAt;
  if (latest <= scheduledAt) return null;
  return { serve: latest, missed: c.slotsIn(scheduledAt, scheduledAt, latest)! };
}

/** The slots from `first` (a slot) up to (not including) `next`; null when none. */
export function slotsBefore(c: Cadence, first: number, next: number): MissedSlots | null {
  return c.slotsIn(first, first, next);
}

/**
 * Pure grid math. A fabric's slots are `anchor + k * interval` (wall-clock epoch ms, shared with
 * other replicas and with humans); nothing here reads a clock.
 */

/** First slot of the grid `anchor + k * interval` at or after `t` (the anchor itself when `t` is before it). */
export function slotAtOrAfter(anchor: number, interval: number, t: number): number {
  if (t <= anchor) return anchor;
  return anchor + Math.ceil((t - anchor) / interval) * interval;
}

/** Latest slot of the grid at or before `t`, or null when `t` is before the anchor. */
export function latestSlotAtOrBefore(anchor: number, interval: number, t: number): number | null {
  if (t < anchor) return null;
  return anchor + Math.floor((t - anchor) / interval) * interval;
}

/** Whether `t` is a slot of the grid. */
export function isOnGrid(anchor: number, interval: number, t: number): boolean {
  return t >= anchor && (t - anchor) % interval === 0;
}

/**
 * The first slot a fabric is free for: at or after `now`, and after `lastSlotAt` (the latest slot
 * claimed), so a slot is never served twice and a run that overran leaves the slots it covered.
 */
export function nextFreeSlot(anchor: number, interval: number, lastSlotAt: number | null, now: number): number {
  return slotAtOrAfter(anchor, interval, lastSlotAt === null ? now : Math.max(now, lastSlotAt + 1));
}

/**
 * Where a fabric goes after its run: a sync requested meanwhile (one follow-up run), a retry, the
 * next slot of a catch-up, a slot whose claim was given back (tried again shortly), or the next
 * free slot, with the slots the run covered counted as missed (`'overrun'`); and where a fabric
 * goes when its waiting run is dropped (`clearBacklog`).
 */
import { cadenceOf, nextFreeSlot } from './cadence.js';
import { slotAfter, slotsBefore } from './catch-up.js';
import { reportMissed, reportSkipped, type Core } from './core.js';
import type { Dispatcher } from './dispatcher.js';
import { recheckRequest, serveRequest } from './requests.js';
import { newRun, type Run } from './run.js';

/** How soon a slot whose claim was given back (lease lost before the start) is tried again, ms. */
export const GIVEN_BACK_RETRY_MS = 250;

/** Re-arms a fabric after a run: retry, catch-up, or the next free slot (counting those covered as missed). */
export function armAfterRun(core: Core, d: Dispatcher, run: Run, now: number): void {
  const rt = run.rt;
  if (core.pauses.isPaused(rt.fabric)) return d.hold(rt);
  // A sync requested while this run ran (or waited): one follow-up run (see requests.ts).
  if (!run.skipped && serveRequest(core, d, rt, now, false)) return;
  if (run.skipped && run.forRequest && run.skipReason === 'locked') recheckRequest(core, d, rt);
  const s = rt.record?.state;
  const cadence = cadenceOf(rt.fabric);
  const lastSlot = s?.lastSlotAt ?? null;
  if (run.skipped) {
    const next = nextFreeSlot(cadence, s?.anchorAt ?? run.scheduledAt, Math.max(lastSlot ?? run.scheduledAt, run.scheduledAt), now);
    if (run.givenBack && (run.trigger === 'schedule' || run.trigger === 'catch-up')) {
      // Its claim was given back: try the slot again shortly, or report it when the next slot comes first.
      const again = now + GIVEN_BACK_RETRY_MS;
      if (again < next) return d.arm(rt, 'slot', run.scheduledAt, 1, again);
      reportMissed(core, rt.fabric.id, run.queue, { count: 1, first: run.scheduledAt, last: run.scheduledAt }, 'late');
    }
    return d.armSlot(rt, next);
  }
  if (run.retryAt != null) return d.arm(rt, 'retry', run.scheduledAt, run.attempt + 1, run.retryAt);
  if (rt.catchUpUntil !== null && lastSlot !== null && lastSlot < rt.catchUpUntil) {
    return d.enqueue(newRun(rt, d.queueOf(rt.fabric), slotAfter(cadence, lastSlot), 'catch-up', 1));
  }
  rt.catchUpUntil = null;
  const next = nextFreeSlot(cadence, s?.anchorAt ?? run.scheduledAt, lastSlot, now);
  if (lastSlot !== null) reportMissed(core, rt.fabric.id, run.queue, slotsBefore(cadence, slotAfter(cadence, lastSlot), next), 'overrun');
  d.armSlot(rt, next);
}

/**
 * Drops `runs` (taken out of their queues' backlog): each fabric waits for its next grid slot;
 * the dropped slots count as missed (`'cleared'`). Returns the number of runs dropped.
 */
export function clearBacklog(core: Core, d: Dispatcher, runs: readonly Run[], now: number): number {
  for (const run of runs) {
    const rt = run.rt;
    rt.run = undefined;
    rt.catchUpUntil = null;
    reportSkipped(core, run, 'cancelled');
    const cadence = cadenceOf(rt.fabric);
    const next = cadence.slotAtOrAfter(rt.record?.state.anchorAt ?? run.scheduledAt, now + 1);
    if (run.trigger === 'schedule' || run.trigger === 'catch-up') reportMissed(core, rt.fabric.id, run.queue, slotsBefore(cadence, run.scheduledAt, next), 'cleared');
    if (!rt.removed && rt.fabric.enabled && core.lifecycle() === 'running') d.armSlot(rt, next);
  }
  return runs.length;
}

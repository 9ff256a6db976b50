/**
 * Freshness: `fabric:stale` once per crossing of a fabric's staleness bound, and the staleness
 * gauges. No timer of its own: a fabric is looked at when the scheduler looks at it anyway (its
 * timer, the end of its run), and every fabric by a sweep at the housekeeping pass and at wheel
 * wakes at least a sweep period apart (`housekeepingInterval`, 5 s when that is 0). A fabric with
 * an armed slot is seen at its next slot or retry at the latest; a paused fabric, or one whose run
 * hangs, at the first sweep after the crossing: within one sweep period when housekeeping runs or
 * other fabrics wake the wheel (see docs/operations.md).
 */
import type { Core } from './core.js';
import { cadenceOf } from './cadence.js';
import type { FabricRuntime } from './fabric-runtime.js';

/** Sweep period when `housekeepingInterval` is 0 (no housekeeping), ms. */
export const FRESHNESS_SWEEP_MS = 5_000;

/** Whether the fabric's last success is past its staleness bound at `now` (enabled fabrics with a success only). */
export function isStale(rt: FabricRuntime, now: number): boolean {
  const last = rt.record?.state.lastSyncAt ?? null;
  return rt.fabric.enabled && last !== null && last < cadenceOf(rt.fabric).staleBefore(now);
}

/** Looks at one fabric: emits `fabric:stale` when it crossed its bound since it was last seen fresh. */
export function checkFreshness(core: Core, rt: FabricRuntime, now: number): void {
  const stale = isStale(rt, now);
  if (stale === rt.stale) return;
  rt.stale = stale;
  if (!stale) return;
  const lastSyncAt = rt.record!.state.lastSyncAt!;
  core.emit('fabric:stale', { fabricId: rt.fabric.id, lastSyncAt, staleSince: cadenceOf(rt.fabric).staleAt(lastSyncAt), at: now });
}

/** Looks at every fabric this scheduler holds. */
export function sweepFreshness(core: Core, now: number): void {
  LAST_SWEEP.set(core, now);
  for (const rt of core.fabrics.values()) if (!rt.removed) checkFreshness(core, rt, now);
}

const LAST_SWEEP = new WeakMap<Core, number>();

/**
 * Sweeps when the last sweep is at least the sweep period old (`housekeepingInterval`, or
 * {@link FRESHNESS_SWEEP_MS} when that is 0): called at every wake of the scheduler's wheel, so
 * no timer of its own is ever armed (an idle scheduler arms none).
 */
export function sweepFreshnessEvery(core: Core, now: number): void {
  const period = core.opts.housekeepingInterval > 0 ? core.opts.housekeepingInterval : FRESHNESS_SWEEP_MS;
  const last = LAST_SWEEP.get(core);
  if (last === undefined) LAST_SWEEP.set(core, now);
  else if (now - last >= period || now < last) sweepFreshness(core, now);
}

/** The staleness gauges: fabrics past their bound, and the oldest last success among enabled fabrics (ms ago). */
export function freshnessGauge(runtimes: Iterable<FabricRuntime>, now: number): { stale: number; maxStalenessMs: number | null } {
  let stale = 0;
  let oldest = Number.POSITIVE_INFINITY;
  for (const rt of runtimes) {
    const last = rt.record?.state.lastSyncAt ?? null;
    if (!rt.fabric.enabled || last === null) continue;
    if (last < oldest) oldest = last;
    if (last < cadenceOf(rt.fabric).staleBefore(now)) stale++;
  }
  return { stale, maxStalenessMs: oldest === Number.POSITIVE_INFINITY ? null : Math.max(0, now - oldest) };
}

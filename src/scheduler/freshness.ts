/**
 * Freshness: `fabric:stale` once per crossing of a fabric's staleness bound, and the `stale` flag
 * the gauges count (gauges.ts). No timer of its own: a fabric is looked at when the scheduler looks at it anyway (its
 * timer, the end of its run), and every fabric by a sweep that begins at most once per sweep period
 * (`housekeepingInterval`, 5 s when that is 0) and advances {@link SWEEP_CHUNK} fabrics at each
 * wheel wake and housekeeping pass. A fabric with an armed slot is seen at its next slot or retry
 * at the latest; a paused fabric, or one whose run hangs, by the first sweep after the crossing
 * (see docs/operations.md). A pass also finds the oldest last success for `maxStalenessMs` (gauges.ts).
 */
import type { Core } from './core.js';
import { cadenceOf } from './cadence.js';
import type { FabricRuntime } from './fabric-runtime.js';
import { sameSchedule } from './same-schedule.js';

/** Sweep period when `housekeepingInterval` is 0 (no housekeeping), ms. */
export const FRESHNESS_SWEEP_MS = 5_000;

/** Whether the fabric's last success is past its staleness bound at `now` (enabled fabrics with a success only). */
export function isStale(rt: FabricRuntime, now: number): boolean {
  const last = rt.lastSyncAt;
  return rt.fabric.enabled && last !== null && last < cadenceOf(rt.fabric).staleBefore(now);
}

/** Fabrics whose crossing is being confirmed with the storage (see {@link checkFreshness}). */
const CONFIRMING = new WeakSet<FabricRuntime>();

/**
 * Looks at one fabric: emits `fabric:stale` when it crossed its bound since it was last seen fresh.
 * A crossing seen in the cached record is confirmed with the storage first: another scheduler
 * may have run the fabric since this one last read it (it lost the lock for those slots), and
 * only the stored last success says whether it is stale. A newer record read for that is cached
 * (as the housekeeper would), so the next crossing this scheduler suspects is one bound later:
 * at most one read per fabric and bound. A fabric another replica is responsible for
 * (`SingleFlight.shouldRun` false) is left to that replica.
 */
export function checkFreshness(core: Core, rt: FabricRuntime, now: number): void {
  const stale = isStale(rt, now);
  if (stale === rt.stale) return;
  if (!stale) return rt.setStale(false, core.gauges);
  const flight = core.opts.singleFlight;
  if (CONFIRMING.has(rt) || (flight.shouldRun && !flight.shouldRun(rt.fabric.id))) return;
  CONFIRMING.add(rt);
  void confirmStale(core, rt).finally(() => CONFIRMING.delete(rt));
}

async function confirmStale(core: Core, rt: FabricRuntime): Promise<void> {
  const id = rt.fabric.id;
  const generation = core.time.generation;
  let stored;
  try {
    stored = await core.io.get(id);
  } catch (error) {
    core.reportError('storage', error, id);
    return;
  }
  if (rt.removed || core.fabrics.get(id) !== rt || core.lifecycle() !== 'running') return;
  // Taken as the cached record where the housekeeper would take it: an idle fabric, same schedule,
  // read on today's time scale (no wall step since).
  if (stored && !rt.run && !rt.pendingShift && core.time.movedSince(generation) === 0 && sameSchedule(stored.definition, rt.fabric)) rt.cache(stored, core.gauges);
  const lastSyncAt = stored?.state.lastSyncAt ?? null;
  const now = core.time.now();
  if (rt.stale || !rt.fabric.enabled || lastSyncAt === null || lastSyncAt >= cadenceOf(rt.fabric).staleBefore(now)) return;
  rt.setStale(true, core.gauges);
  core.emit('fabric:stale', { fabricId: id, lastSyncAt, staleSince: cadenceOf(rt.fabric).staleAt(lastSyncAt), at: now });
}


/** Fabrics looked at per wake by a sweep: a pass over a million fabrics is spread over many wakes. */
export const SWEEP_CHUNK = 16_384;

/** Per scheduler: when the current pass began, and where it is (null between passes). */
const SWEEPS = new WeakMap<Core, { began: number; at: Iterator<FabricRuntime> | null }>();

/**
 * Called at every wake of the scheduler's wheel and at every housekeeping pass, so no timer of its
 * own is ever armed (an idle scheduler arms none): begins a pass over every fabric when the last
 * one began at least a sweep period ago (`housekeepingInterval`, or {@link FRESHNESS_SWEEP_MS} when
 * that is 0), and goes on with the current pass, {@link SWEEP_CHUNK} fabrics per call.
 */
export function sweepFreshnessEvery(core: Core, now: number): void {
  let sweep = SWEEPS.get(core);
  if (sweep === undefined) {
    SWEEPS.set(core, { began: now, at: null });
    return;
  }
  if (sweep.at === null) {
    const period = core.opts.housekeepingInterval > 0 ? core.opts.housekeepingInterval : FRESHNESS_SWEEP_MS;
    if (now - sweep.began < period && now >= sweep.began) return;
    sweep = { began: now, at: core.fabrics.values() };
    SWEEPS.set(core, sweep);
    core.gauges.passBegan();
  }
  for (let i = 0; i < SWEEP_CHUNK; i++) {
    const next = sweep.at!.next();
    if (next.done) {
      sweep.at = null;
      core.gauges.passEnded();
      return;
    }
    if (next.value.removed) continue;
    checkFreshness(core, next.value, now);
    core.gauges.passSaw(next.value);
  }
}

/**
 * Wall-clock steps: deadlines never move (they are monotonic); with `'move-grid'` every slot this
 * scheduler holds is renamed by a detected step, once, and the stored grids with it.
 */
import type { FabricRecord } from '../storage/types.js';
import type { Core } from './core.js';
import type { FabricRuntime } from './fabric-runtime.js';
import { shiftState } from './transitions.js';

/**
 * A record read before steps moved the grid (a listing taken while they were seen): returns it
 * moved by `skew` for immediate use, and moves the stored one too (once: only while it is still
 * that version). Errors are reported; the caller goes on with the moved copy.
 */
export function movedRecord(core: Core, record: FabricRecord, skew: number): FabricRecord {
  if (skew === 0) return record;
  const update = core.io.update(record.definition.id, (current) => {
    if (!current || current.version !== record.version) return null;
    return { definition: current.definition, state: shiftState(current.state, skew) };
  }, record);
  if (update instanceof Promise) update.catch((error: unknown) => core.reportError('storage', error, record.definition.id));
  else if (update) return update;
  return { definition: record.definition, state: shiftState(record.state, skew), version: record.version };
}

/**
 * Looks for a wall-clock step (called at every wake and host call while running). With
 * `'move-grid'` every slot this scheduler holds is renamed by the step, once, and the stored
 * grids with it (only where the stored anchor is still the one this scheduler knew, so
 * schedulers sharing a storage shift it once).
 */
export function observeClockSteps(core: Core): void {
  // Only a running scheduler holds every fabric it owns; start() looks once all are loaded.
  if (core.lifecycle() !== 'running') return;
  const skew = core.time.observe();
  if (skew === 0) return;
  if (core.time.movesGrid) {
    for (const rt of core.fabrics.values()) {
      rt.shift(skew, core.gauges);
      if (rt.pendingShift) void persistShift(core, rt);
    }
  }
  core.emit('clock:jump', { skewMs: skew, at: core.time.now() });
}

/**
 * Writes a runtime's pending grid move to the stored record, once: only while the stored grid is
 * still the one it applies to (another scheduler sharing the storage may have moved it already).
 * Resolves to false when the storage failed (reported; the move stays pending).
 */
export async function persistShift(core: Core, rt: FabricRuntime): Promise<boolean> {
  const pending = rt.pendingShift;
  if (!pending) return true;
  try {
    await core.io.update(rt.fabric.id, (current) => {
      const p = rt.pendingShift;
      if (!current || !p || current.state.anchorAt !== p.anchorAt || current.state.lastSlotAt !== p.lastSlotAt) return null;
      return { definition: current.definition, state: shiftState(current.state, p.skew) };
    }, undefined);
    if (rt.pendingShift === pending) rt.pendingShift = null;
    return true;
  } catch (error) {
    core.reportError('storage', error, rt.fabric.id);
    return false;
  }
}

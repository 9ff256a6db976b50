/**
 * The pure policy modules of the scheduler (grid, catch-up, retry, transitions): no clock, no
 * storage, no scheduler.
 */
import { describe, expect, it } from 'vitest';
import { IllegalTransitionError, normalizeFabric } from '../../src/index.js';
import { initialState, type FabricRecord, type FabricState } from '../../src/storage/types.js';
import { assertTransition } from '../../src/status.js';
import { planCatchUp, planWaited, slotsBefore, type CatchUpRules } from '../../src/scheduler/catch-up.js';
import { cadenceOf } from '../../src/scheduler/cadence.js';
import { isOnGrid, latestSlotAtOrBefore, nextFreeSlot, slotAtOrAfter } from '../../src/scheduler/grid.js';
import { backoffDelay, retryAt } from '../../src/scheduler/retry.js';
import { claimState, isOffGrid, outcomeState, regridState, restoreState, shiftState, upsertState } from '../../src/scheduler/transitions.js';

const MIN = 60_000;
const fabric = (over: Record<string, unknown> = {}) => normalizeFabric({ id: 'f', syncInterval: MIN, ...over }, { syncTimeout: 0 });
const C = cadenceOf(fabric());
const rules = (policy: CatchUpRules['policy'], maxCatchUp: number, window = Number.POSITIVE_INFINITY): CatchUpRules => ({ policy, maxCatchUp, window });
const rec = (state: Partial<FabricState>, over: Record<string, unknown> = {}, version = 1): FabricRecord => ({ definition: fabric(over), state: { ...initialState(), ...state }, version });

describe('grid', () => {
  it('names slots anchor + k * interval', () => {
    expect(slotAtOrAfter(1000, MIN, 500)).toBe(1000);
    expect(slotAtOrAfter(1000, MIN, 1000)).toBe(1000);
    expect(slotAtOrAfter(1000, MIN, 1001)).toBe(1000 + MIN);
    expect(latestSlotAtOrBefore(1000, MIN, 999)).toBeNull();
    expect(latestSlotAtOrBefore(1000, MIN, 1000 + 2 * MIN - 1)).toBe(1000 + MIN);
    expect(isOnGrid(7, MIN, 7 + 5 * MIN)).toBe(true);
    expect(isOnGrid(7, MIN, 8 + 5 * MIN)).toBe(false);
  });
  it('never frees a slot at or before the last one claimed', () => {
    expect(nextFreeSlot(0, MIN, null, 10)).toBe(MIN);
    expect(nextFreeSlot(0, MIN, MIN, MIN)).toBe(2 * MIN);
    expect(nextFreeSlot(0, MIN, MIN, 5 * MIN + 1)).toBe(6 * MIN);
  });
  it('has zero drift over 10,000 cycles', () => {
    let slot = 0;
    for (let k = 0; k < 10_000; k++) slot = nextFreeSlot(0, MIN, slot, slot + 37);
    expect(slot).toBe(10_000 * MIN);
  });
});

describe('catch-up planning', () => {
  it('serves an on-time slot as is', () => {
    expect(planCatchUp(C, rules('once', 10), MIN, MIN + 5)).toEqual({ serve: MIN, missed: null, expired: null, catchUpUntil: null, next: 2 * MIN });
  });
  it("'skip' drops every due slot, 'once' serves the latest, 'all' serves up to maxCatchUp in order", () => {
    const now = 10 * MIN + 1; // slots 1..10 due
    expect(planCatchUp(C, rules('skip', 10), MIN, now)).toEqual({ serve: null, missed: { first: MIN, last: 10 * MIN, count: 10 }, expired: null, catchUpUntil: null, next: 11 * MIN });
    expect(planCatchUp(C, rules('once', 10), MIN, now)).toEqual({ serve: 10 * MIN, missed: { first: MIN, last: 9 * MIN, count: 9 }, expired: null, catchUpUntil: null, next: 11 * MIN });
    expect(planCatchUp(C, rules('all', 3), MIN, now)).toEqual({ serve: 8 * MIN, missed: { first: MIN, last: 7 * MIN, count: 7 }, expired: null, catchUpUntil: 10 * MIN, next: 9 * MIN });
    expect(planCatchUp(C, rules('all', 20), MIN, now).missed).toBeNull();
  });
  it('counts the slots a run covered or a cleared backlog dropped', () => {
    expect(slotsBefore(C, MIN, 4 * MIN)).toEqual({ first: MIN, last: 3 * MIN, count: 3 });
    expect(slotsBefore(C, MIN, MIN)).toBeNull();
  });
  it('a run that waited for a lane serves the latest slot due', () => {
    expect(planWaited(C, MIN, MIN + 10)).toBeNull();
    expect(planWaited(C, MIN, 3 * MIN)).toEqual({ serve: 3 * MIN, missed: { first: MIN, last: 2 * MIN, count: 2 } });
  });
});

describe('retry policy', () => {
  const retry = { initialDelay: 1000, multiplier: 2, maxDelay: 10_000 };
  it('backs off exponentially up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(retry, n))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
  it('never schedules a retry at or past the next slot', () => {
    expect(retryAt(retry, 1, 0, 1001)).toBe(1000);
    expect(retryAt(retry, 1, 0, 1000)).toBeNull();
    expect(retryAt(false, 1, 0, MIN)).toBeNull();
  });
});

describe('transitions', () => {
  it('a new fabric syncs at once on a grid anchored now; an unchanged definition keeps the stored grid', () => {
    const created = upsertState(undefined, fabric(), 500);
    expect(created.state).toMatchObject({ status: 'never_synced', anchorAt: 500, nextSyncAt: 500, lastSlotAt: null });
    const again = upsertState(rec({ anchorAt: 100, lastSlotAt: 100, status: 'in_sync', lastSyncAt: 110 }), fabric(), 513);
    expect(again.state.anchorAt).toBe(100);
    expect(again.previous).toBeDefined();
  });
  it('a new interval goes on from the last slot served; disabling parks it', () => {
    const r = rec({ anchorAt: 0, lastSlotAt: MIN, status: 'in_sync', lastSyncAt: MIN });
    expect(upsertState(r, fabric({ syncInterval: 2 * MIN }), MIN + 5).state).toMatchObject({ anchorAt: MIN, nextSyncAt: 3 * MIN });
    expect(upsertState(r, fabric({ enabled: false }), MIN + 5).state).toMatchObject({ status: 'disabled', nextSyncAt: null });
  });
  it('a claim serves a slot of the STORED grid, never early, never twice', () => {
    const stored = rec({ anchorAt: 1000, lastSlotAt: 1000, status: 'in_sync', lastSyncAt: 1010, fencingToken: 4 });
    // Another replica armed the same fabric 13 ms off the stored grid.
    const late = claimState(stored, stored.definition, { trigger: 'schedule', scheduledAt: 1013 + MIN, startedAt: 1013 + MIN });
    expect(late).toMatchObject({ ok: true, slot: 1000 + MIN });
    if (late.ok) expect(late.state).toMatchObject({ status: 'syncing', lastSlotAt: 1000 + MIN, fencingToken: 5 });
    expect(claimState(stored, stored.definition, { trigger: 'schedule', scheduledAt: 1013, startedAt: 1013 })).toEqual({ ok: false, reason: 'already-claimed' });
    const first = claimState(rec({ anchorAt: 1000 }), fabric(), { trigger: 'schedule', scheduledAt: 1013, startedAt: 1013 });
    expect(first).toMatchObject({ ok: true, slot: 1013 });
    if (first.ok) expect(first.state.anchorAt).toBe(1013);
    expect(claimState(rec({ status: 'disabled' }), fabric(), { trigger: 'manual', scheduledAt: 5, startedAt: 5 })).toEqual({ ok: false, reason: 'cancelled' });
    // a retry planned before a later failure (elsewhere) pushed the backoff further waits for it
    const failedAgain = rec({ status: 'error', anchorAt: 0, lastSlotAt: 0, consecutiveFailures: 5, nextSyncAt: 26_500, fencingToken: 5 });
    expect(claimState(failedAgain, failedAgain.definition, { trigger: 'retry', scheduledAt: 0, startedAt: 17_000 })).toEqual({ ok: false, reason: 'already-claimed' });
    expect(claimState(failedAgain, failedAgain.definition, { trigger: 'retry', scheduledAt: 0, startedAt: 26_500 }).ok).toBe(true);
  });
  it('an outcome is written only under the claim that made it', () => {
    const claimed = rec({ status: 'syncing', anchorAt: 0, lastSlotAt: MIN, fencingToken: 7 });
    const o = { ok: true, abandoned: false, error: null, finishedAt: MIN + 10, retryAt: null, scheduledAt: MIN };
    expect(outcomeState(claimed, 6, o)).toBeNull();
    expect(outcomeState(claimed, 7, o)?.state).toMatchObject({ status: 'in_sync', lastSyncAt: MIN + 10, nextSyncAt: 2 * MIN });
    expect(outcomeState(claimed, 7, { ...o, ok: false, error: 'boom', retryAt: MIN + 1010 })?.state).toMatchObject({ status: 'error', lastError: 'boom', consecutiveFailures: 1, nextSyncAt: MIN + 1010 });
  });
  it('restores an abandoned claim to its resting status, and refuses illegal moves', () => {
    const claimed = rec({ status: 'syncing', anchorAt: 0, lastSlotAt: MIN, fencingToken: 3, lastSyncAt: 0 });
    expect(restoreState(claimed, 3, MIN + 1)).toMatchObject({ to: 'in_sync', state: { nextSyncAt: 2 * MIN } });
    expect(restoreState(claimed, 2, MIN + 1)).toBeNull();
    // a claim whose run never started gives its slot back
    expect(restoreState(claimed, 3, MIN + 1, { anchorAt: 0, lastSlotAt: 0, lastAttemptAt: 0 })).toMatchObject({ to: 'in_sync', state: { lastSlotAt: 0, fencingToken: 3 } });
    expect(() => claimState(rec({ status: 'syncing', lastSyncAt: 0, lastSlotAt: null }), fabric(), { trigger: 'manual', scheduledAt: 1, startedAt: 1 })).not.toThrow();
    // Re-enabled by the host while the run was in flight: the run stands down.
    expect(outcomeState(rec({ status: 'never_synced', fencingToken: 1 }), 1, { ok: true, abandoned: false, error: null, finishedAt: 1, retryAt: null, scheduledAt: 0 })).toBeNull();
    expect(() => claimState(rec({ status: 'disabled' }, { enabled: true }), fabric(), { trigger: 'manual', scheduledAt: 1, startedAt: 1 })).not.toThrow();
    expect(() => restoreState(rec({ status: 'syncing', fencingToken: 1 }, { enabled: false }), 1, 5)).not.toThrow();
    expect(() => assertTransition('f', 'never_synced', 'in_sync')).toThrow(IllegalTransitionError);
  });
  it('a wall-clock step moves grid and history together; off-grid next syncs are found and put back', () => {
    const s = shiftState({ ...initialState(), anchorAt: 0, lastSlotAt: MIN, nextSyncAt: 2 * MIN, lastSyncAt: MIN + 5, lastAttemptAt: MIN }, 1000);
    expect(s).toMatchObject({ anchorAt: 1000, lastSlotAt: MIN + 1000, nextSyncAt: 2 * MIN + 1000, lastSyncAt: MIN + 1005, lastAttemptAt: MIN + 1000 });
    const off = rec({ status: 'in_sync', anchorAt: 0, lastSlotAt: MIN, nextSyncAt: MIN + 7 });
    expect(isOffGrid(off)).toBe(true);
    expect(regridState(off.state, fabric(), MIN + 1)?.nextSyncAt).toBe(2 * MIN);
    expect(isOffGrid(rec({ status: 'in_sync', anchorAt: 0, nextSyncAt: 2 * MIN }))).toBe(false);
  });
});

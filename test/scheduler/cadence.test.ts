/**
 * The cadence module and catch-up by window: pure, no clock, no scheduler.
 */
import { describe, expect, it } from 'vitest';
import { normalizeFabric } from '../../src/index.js';
import { MAX_COUNTED_SLOTS, cadenceOf, nextFreeSlot, nextSlotAtOrAfter, spreadOffset } from '../../src/scheduler/cadence.js';
import { planCatchUp, planWaited, slotAfter, type CatchUpRules } from '../../src/scheduler/catch-up.js';
import { initialState, type FabricRecord } from '../../src/storage/types.js';
import { claimState, isOffGrid, outcomeState, regridState, upsertState } from '../../src/scheduler/transitions.js';

const MIN = 60_000;
const H = 3_600_000;
const at = (iso: string): number => Date.parse(iso);
const def = (over: Record<string, unknown>) => normalizeFabric({ id: 'f', ...over }, { syncTimeout: 0 });
const hourly = def({ schedule: { cron: '0 * * * *' } });
const berlin = def({ schedule: { cron: '0 2 * * 1-5', timeZone: 'Europe/Berlin' } });
const spread = def({ syncInterval: MIN, phase: 'spread' });
const rules = (policy: CatchUpRules['policy'], window = Number.POSITIVE_INFINITY, maxCatchUp = 10): CatchUpRules => ({ policy, maxCatchUp, window });
const T = at('2026-03-02T00:00:00Z'); // a Monday

describe('calendar cadence', () => {
  const c = cadenceOf(hourly);
  it('its slots are the anchor, then the occurrences after it', () => {
    const anchor = T + 10 * MIN;
    expect(c.slotAtOrAfter(anchor, anchor - 5)).toBe(anchor);
    expect(c.slotAtOrAfter(anchor, anchor + 1)).toBe(T + H);
    expect(c.latestAtOrBefore(anchor, anchor - 1)).toBeNull();
    expect(c.latestAtOrBefore(anchor, T + H - 1)).toBe(anchor);
    expect(c.latestAtOrBefore(anchor, T + 3 * H + 5)).toBe(T + 3 * H);
    expect(c.isSlot(anchor, anchor)).toBe(true);
    expect(c.isSlot(anchor, T)).toBe(false); // an occurrence, but before the anchor
    expect(c.isSlot(anchor, T + 2 * H)).toBe(true);
    expect(c.isSlot(anchor, T + 2 * H + 1)).toBe(false);
    expect(c.isPoint(T)).toBe(true);
    expect(c.slotsIn(anchor, anchor, T + 4 * H)).toEqual({ first: anchor, last: T + 3 * H, count: 4 });
    expect(c.back(anchor, T + 5 * H, 3, anchor)).toBe(T + 2 * H);
    expect(c.back(anchor, T + 2 * H, 5, anchor)).toBe(anchor);
    expect(nextFreeSlot(c, anchor, T + H, T + H + 1)).toBe(T + 2 * H);
    expect(nextSlotAtOrAfter(hourly, anchor, T + 90 * MIN)).toBe(T + 2 * H);
  });
  it('is stale before the second-latest occurrence (a maxStaleness replaces it); staleAt is the crossing', () => {
    expect(c.staleBefore(T + 2 * H + 5)).toBe(T + H);
    expect(c.staleBefore(T + 2 * H - 1)).toBe(T);
    expect(c.staleAt(T + 10 * MIN)).toBe(T + 2 * H);
    const bound = cadenceOf(def({ schedule: { cron: '0 * * * *' }, maxStaleness: 'PT90M' }));
    expect(bound.staleBefore(T + 2 * H)).toBe(T + 30 * MIN);
    expect(bound.staleAt(T)).toBe(T + 90 * MIN + 1);
  });
  it('counts weekday occurrences, not days, across a weekend and a DST change', () => {
    const b = cadenceOf(berlin);
    const fri = at('2026-03-27T01:00:00Z'); // Friday 02:00 CET
    expect(slotAfter(b, fri)).toBe(at('2026-03-30T00:00:00Z')); // Monday 02:00 CEST
    expect(b.slotsIn(fri, fri, at('2026-04-01T00:00:01Z'))).toEqual({ first: fri, last: at('2026-04-01T00:00:00Z'), count: 4 });
  });
  it('a long run of missed per-second occurrences is counted up to MAX_COUNTED_SLOTS', () => {
    const s = cadenceOf(def({ schedule: { cron: '* * * * * *' } }));
    const t0 = performance.now();
    expect(s.slotsIn(T, T, T + 3 * H)!.count).toBe(MAX_COUNTED_SLOTS);
    if (process.env['CADENCE_REPORT']) console.log(`walked ${MAX_COUNTED_SLOTS} occurrences in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(s.slotsIn(T, T, T + 10_000)).toEqual({ first: T, last: T + 9_000, count: 10 });
    expect(s.slotsIn(T, T, T + 1_000_000)!.count).toBe(1_000);
  });
});

describe('spread cadence', () => {
  const c = cadenceOf(spread);
  const offset = spreadOffset('f', MIN);
  it('points at offset + k * interval from the epoch; the first one at least half an interval after the anchor', () => {
    expect(c.isPoint(offset + 7 * MIN)).toBe(true);
    expect(c.isPoint(offset + 7 * MIN + 1)).toBe(false);
    const anchor = T + offset + 10_000; // 10 s after a point: the next point is too close
    expect(c.slotAtOrAfter(anchor, anchor + 1)).toBe(T + offset + MIN);
    const anchor2 = T + offset - 40_000; // 40 s before a point: far enough
    expect(c.slotAtOrAfter(anchor2, anchor2 + 1)).toBe(T + offset);
    expect(c.latestAtOrBefore(anchor, T + offset + MIN - 1)).toBe(anchor);
    expect(c.isSlot(anchor, T + offset + MIN)).toBe(true);
    expect(c.slotsIn(anchor, anchor, T + offset + 3 * MIN + 1)).toEqual({ first: anchor, last: T + offset + 3 * MIN, count: 4 });
  });
});

describe('catch-up by window', () => {
  const c = cadenceOf(hourly);
  const now = T + 5 * H + 30 * MIN; // slots T+2H .. T+5H due
  it('drops slots older than now - window, then applies the policy to the rest', () => {
    expect(planCatchUp(c, rules('all', 2.5 * H), T + 2 * H, now)).toEqual({
      serve: T + 3 * H, missed: null, expired: { first: T + 2 * H, last: T + 2 * H, count: 1 }, catchUpUntil: T + 5 * H, next: T + 4 * H,
    });
    expect(planCatchUp(c, rules('once', 2.5 * H), T + 2 * H, now)).toEqual({
      serve: T + 5 * H, missed: { first: T + 3 * H, last: T + 4 * H, count: 2 }, expired: { first: T + 2 * H, last: T + 2 * H, count: 1 }, catchUpUntil: null, next: T + 6 * H,
    });
    expect(planCatchUp(c, rules('skip', 2.5 * H), T + 2 * H, now).missed).toEqual({ first: T + 3 * H, last: T + 5 * H, count: 3 });
  });
  it('drops everything when even the latest slot is older than the window; a single late slot too', () => {
    expect(planCatchUp(c, rules('once', 10 * MIN), T + 2 * H, now)).toEqual({ serve: null, missed: null, expired: { first: T + 2 * H, last: T + 5 * H, count: 4 }, catchUpUntil: null, next: T + 6 * H });
    expect(planCatchUp(c, rules('once', 10 * MIN), T + 5 * H, now)).toEqual({ serve: null, missed: null, expired: { first: T + 5 * H, last: T + 5 * H, count: 1 }, catchUpUntil: null, next: T + 6 * H });
    // inside the window: served as is
    expect(planCatchUp(c, rules('once', H), T + 5 * H, now)).toMatchObject({ serve: T + 5 * H, missed: null, expired: null });
  });
  it('an unlimited window is today\'s behaviour; a waiting run serves the latest occurrence due', () => {
    expect(planCatchUp(c, rules('all', Number.POSITIVE_INFINITY, 2), T + 2 * H, now)).toMatchObject({ serve: T + 4 * H, missed: { first: T + 2 * H, last: T + 3 * H, count: 2 }, expired: null });
    expect(planWaited(c, T + 2 * H, now)).toEqual({ serve: T + 5 * H, missed: { first: T + 2 * H, last: T + 4 * H, count: 3 } });
  });
});

describe('transitions on a calendar', () => {
  const rec = (state: Partial<FabricRecord['state']>, definition = hourly): FabricRecord => ({ definition, state: { ...initialState(), ...state }, version: 1 });
  it('a new fabric is due now; a claim snaps to the latest occurrence; the outcome plans the next one', () => {
    const up = upsertState(undefined, hourly, T + 10 * MIN);
    expect(up.state).toMatchObject({ anchorAt: T + 10 * MIN, nextSyncAt: T + 10 * MIN, lastSlotAt: null });
    const first = claimState(rec(up.state), hourly, { trigger: 'schedule', scheduledAt: T + 10 * MIN, startedAt: T + 10 * MIN });
    expect(first).toMatchObject({ ok: true, slot: T + 10 * MIN });
    const claimed = claimState(rec({ anchorAt: T + 10 * MIN, lastSlotAt: T + 10 * MIN, status: 'in_sync' }), hourly, { trigger: 'schedule', scheduledAt: T + 2 * H + 7, startedAt: T + 2 * H + 9 });
    expect(claimed).toMatchObject({ ok: true, slot: T + 2 * H });
    const out = outcomeState(rec({ ...(claimed.ok ? claimed.state : {}) }), claimed.ok ? claimed.state.fencingToken : 0, { ok: true, abandoned: false, error: null, finishedAt: T + 2 * H + 50, retryAt: null, scheduledAt: T + 2 * H });
    expect(out?.state.nextSyncAt).toBe(T + 3 * H);
  });
  it('a new rule goes on from the last slot served, or runs now when its first occurrence after it has passed', () => {
    const base = rec({ status: 'in_sync', anchorAt: T, lastSlotAt: T + H, nextSyncAt: T + 2 * H });
    const daily = def({ schedule: { cron: '0 0 * * *' } });
    expect(upsertState(base, daily, T + H + 5).state).toMatchObject({ anchorAt: T + H, lastSlotAt: T + H, nextSyncAt: T + 24 * H });
    const quarter = def({ schedule: { cron: '*/15 * * * *' } });
    expect(upsertState(base, quarter, T + H + 20 * MIN).state).toMatchObject({ anchorAt: T + H + 20 * MIN, lastSlotAt: null, nextSyncAt: T + H + 20 * MIN });
    // interval -> calendar -> interval
    const interval = def({ syncInterval: 10 * MIN });
    expect(upsertState(rec({ status: 'in_sync', anchorAt: T, lastSlotAt: T + H }, interval), hourly, T + H + 1).state).toMatchObject({ anchorAt: T + H, nextSyncAt: T + 2 * H });
    expect(upsertState(base, interval, T + H + 1).state).toMatchObject({ anchorAt: T + H, nextSyncAt: T + H + 10 * MIN });
 
    // immediate -> spread: the first offset point at least half an interval after the last slot served
    const plain = def({ syncInterval: MIN });
    const offset = spreadOffset('f', MIN);
    const last = T + offset + 10_000; // 10 s after a point of the spread grid
    expect(upsertState(rec({ status: 'in_sync', anchorAt: T, lastSlotAt: last }, plain), spread, last + 1).state).toMatchObject({ anchorAt: last, nextSyncAt: T + offset + MIN });
  });
  it('off-grid: a nextSyncAt that is neither the anchor nor an occurrence is found and put back', () => {
    const off = rec({ status: 'in_sync', anchorAt: T + 10 * MIN, lastSlotAt: T + H, nextSyncAt: T + H + 7 });
    expect(isOffGrid(off)).toBe(true);
    expect(regridState(off.state, hourly, T + H + 8)?.nextSyncAt).toBe(T + 2 * H);
    expect(isOffGrid(rec({ status: 'in_sync', anchorAt: T + 10 * MIN, lastSlotAt: T + 10 * MIN, nextSyncAt: T + H }))).toBe(false);
  });
});

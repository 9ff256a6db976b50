/**
 * Spread phase and jitter (fake clock): slots at a stable per-id offset from the epoch, the first
 * run still at once, runs delayed deterministically by jitter and never past the next slot.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, MemoryStorage, createScheduler, normalizeFabric } from '../../src/index.js';
import { cadenceOf, jitterDelay, spreadOffset } from '../../src/scheduler/cadence.js';
import { createFakeClock } from '../../src/testing.js';
import { makeHarness } from '../helpers/harness.js';

const MIN = 60_000;
const T = Date.parse('2026-03-02T00:00:00Z'); // a whole minute

describe("phase: 'spread'", () => {
  it('600 fabrics of 60 s added in one upsertFabrics call run once each in the second minute, no second holding more than 2.5x the mean', async () => {
    const h = makeHarness({ now: T, phase: 'spread', behaviour: () => undefined });
    const ids = Array.from({ length: 600 }, (_, i) => `fabric-${i}`);
    await h.scheduler.start();
    await h.scheduler.upsertFabrics(ids.map((id) => ({ id, syncInterval: MIN })));
    await h.clock.tickAsync(0);
    // the first run of each is at once
    expect(h.runs.map((r) => r.start)).toEqual(ids.map(() => T));
    for (let s = 0; s < 180; s++) await h.clock.tickAsync(1000);
    const second = h.runs.filter((r) => r.start >= T + MIN && r.start < T + 2 * MIN);
    expect(second.map((r) => r.id).sort()).toEqual([...ids].sort());
    const perSecond = new Array<number>(60).fill(0);
    for (const r of second) perSecond[Math.floor((r.start - T - MIN) / 1000)]!++;
    const mean = 600 / 60;
    expect(Math.max(...perSecond)).toBeLessThanOrEqual(2.5 * mean);
    if (process.env['SPREAD_REPORT']) console.log(`busiest second ${Math.max(...perSecond)}, quietest ${Math.min(...perSecond)}, mean ${mean}`);
    // from the second interval on each runs once per interval, on its own offset, to the ms
    for (const id of ids) {
      const starts = h.runsOf(id).map((r) => r.start).filter((t) => t >= T + MIN);
      const offset = spreadOffset(id, MIN);
      expect(starts.length).toBeGreaterThanOrEqual(1);
      for (const t of starts) expect((t - offset) % MIN).toBe(0);
      for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBe(MIN);
      // the first grid slot comes between half an interval and one and a half intervals after the first run
      const firstGrid = h.runsOf(id)[1]!.start;
      expect(firstGrid - T).toBeGreaterThanOrEqual(MIN / 2);
      expect(firstGrid - T).toBeLessThan(1.5 * MIN);
    }
    expect(h.eventsOf('sync:missed')).toEqual([]);
    await h.scheduler.stop({ inFlight: 'abort' });
  });

  it('the offset is the same on every replica and after a restart (it is written into the definition)', async () => {
    const clock = createFakeClock({ now: T + 12_345 });
    const storage = new MemoryStorage();
    const starts: number[] = [];
    const a = createScheduler({ clock, storage, phase: 'spread', executor: () => void starts.push(clock.now()) });
    await a.upsertFabric({ id: 'x', syncInterval: MIN });
    await a.start();
    await clock.tickAsync(2 * MIN);
    await a.stop();
    // a replica configured 'immediate' follows the stored definition (phase kept)
    const b = createScheduler({ clock, storage, executor: () => void starts.push(clock.now()) });
    expect((await storage.get('x'))!.definition.phase).toBe('spread');
    await b.start();
    await clock.tickAsync(3 * MIN);
    await b.stop();
    const offset = spreadOffset('x', MIN);
    expect(starts[0]).toBe(T + 12_345);
    for (const t of starts.slice(1)) expect((t - offset) % MIN).toBe(0);
    expect(new Set(starts).size).toBe(starts.length);
  });

  it('a per-fabric phase overrides the scheduler default; offsets spread across the interval', () => {
    const f = normalizeFabric({ id: 'y', syncInterval: 1000, phase: 'spread' }, { syncTimeout: 0, phase: 'immediate' });
    expect(cadenceOf(f).kind).toBe('spread');
    const g = normalizeFabric({ id: 'y', syncInterval: 1000, phase: 'immediate' }, { syncTimeout: 0, phase: 'spread' });
    expect(cadenceOf(g).kind).toBe('interval');
    expect(g.phase).toBeUndefined();
    const offsets = Array.from({ length: 10_000 }, (_, i) => spreadOffset(`f${i}`, 100));
    const buckets = new Array<number>(100).fill(0);
    for (const o of offsets) buckets[o]!++;
    expect(Math.min(...buckets)).toBeGreaterThan(50);
    expect(Math.max(...buckets)).toBeLessThan(160);
  });
});

describe('jitter', () => {
  it('delays each run by a deterministic amount in [0, jitter) after its slot; lateness is measured from the slot', async () => {
    const h = makeHarness({ now: T, behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'j', syncInterval: MIN, jitter: 'PT10S' });
    await h.scheduler.start();
    await h.clock.tickAsync(10 * MIN + 10_000);
    const runs = h.runsOf('j');
    expect(runs[0]!.start).toBe(T); // the first run is at once
    expect(runs).toHaveLength(11);
    runs.slice(1).forEach((r, k) => {
      expect(r.scheduledAt).toBe(T + (k + 1) * MIN);
      expect(r.start - r.scheduledAt).toBe(jitterDelay('j', r.scheduledAt, 10_000));
      expect(r.start - r.scheduledAt).toBeLessThan(10_000);
    });
    expect(new Set(runs.slice(1).map((r) => r.start - r.scheduledAt)).size).toBeGreaterThan(5);
    const lateness = (await h.scheduler.getFabricStatus('j'))!.lastLateness;
    expect(lateness).toBe(runs.at(-1)!.start - runs.at(-1)!.scheduledAt);
    await h.scheduler.stop({ inFlight: 'abort' });
  });

  it('never delays a run to or past the next slot (a jitter longer than the interval)', async () => {
    const h = makeHarness({ now: T, jitter: 5 * MIN, behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'k', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(100_000);
    const runs = h.runsOf('k');
    expect(runs.length).toBeGreaterThanOrEqual(99);
    for (const r of runs) expect(r.start - r.scheduledAt).toBeLessThan(1000);
    expect(h.eventsOf('sync:missed')).toEqual([]);
    await h.scheduler.stop({ inFlight: 'abort' });
  });
});

describe('scheduler options phase, jitter, catchUpWindow', () => {
  it.each([
    [{ phase: 'later' }, 'phase'],
    [{ jitter: -1 }, 'jitter'],
    [{ jitter: 'P1M' }, 'jitter'],
    [{ catchUpWindow: -5 }, 'catchUpWindow'],
    [{ catchUpWindow: 'soon' }, 'catchUpWindow'],
  ])('refuses %j naming %s', (options, option) => {
    let error: unknown;
    try {
      createScheduler({ executor: () => undefined, ...(options as object) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).option).toBe(option);
  });
  it('accepts durations, Infinity for catchUpWindow, and 0 for jitter', () => {
    expect(() => createScheduler({ executor: () => undefined, phase: 'spread', jitter: 'PT2S', catchUpWindow: Number.POSITIVE_INFINITY })).not.toThrow();
    expect(() => createScheduler({ executor: () => undefined, jitter: 0, catchUpWindow: 'PT1H' })).not.toThrow();
  });
});

import { describe, expect, it } from 'vitest';
import { MemoryStorage, createScheduler } from '../src/index.js';
import { createFakeClock } from '../src/testing.js';
import { T0, makeHarness, sleepOn } from './helpers/harness.js';

const MIN = 60_000;

describe('fixed-rate grid', () => {
  it('syncs a never-synced fabric at once on start, then every 60 s to the millisecond over 1,000 cycles (10 s syncs)', async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, 10_000) });
    await h.scheduler.upsertFabric({ id: 'fab-a', syncInterval: MIN, enabled: true });
    expect(h.runs).toHaveLength(0); // not started yet
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    expect(h.runs).toHaveLength(1);
    expect(h.runs[0]!.start).toBe(T0);
    for (let i = 0; i < 1000; i++) await h.clock.tickAsync(MIN);
    const runs = h.runsOf('fab-a');
    expect(runs).toHaveLength(1001);
    runs.forEach((r, k) => {
      expect(r.scheduledAt).toBe(T0 + k * MIN);
      expect(r.start).toBe(T0 + k * MIN); // never early, never late: zero drift
    });
    expect(h.eventsOf('sync:missed')).toHaveLength(0);
    const status = await h.scheduler.getFabricStatus('fab-a');
    expect(status).toMatchObject({ status: 'syncing', consecutiveFailures: 0, lastError: null, lastSyncAt: T0 + 999 * MIN + 10_000 });
    await h.scheduler.stop({ inFlight: 'abort' });
  });

  it('a 90 s sync on a 60 s interval never overlaps itself: the covered slot is missed and the next run takes the next slot', async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, 90_000) });
    await h.scheduler.upsertFabric({ id: 'slow', syncInterval: MIN });
    await h.scheduler.start();
    for (let i = 0; i < 100; i++) await h.clock.tickAsync(MIN);
    const runs = h.runsOf('slow');
    // runs at 0, 120, 240, … (each covers the odd slot)
    runs.forEach((r, k) => expect(r.start).toBe(T0 + k * 2 * MIN));
    expect(runs.length).toBe(51);
    expect(h.overlaps).toEqual([]);
    const missed = h.eventsOf('sync:missed', 'slow');
    expect(missed.length).toBe(50);
    expect(missed.every((m) => m.count === 1 && m.reason === 'overrun')).toBe(true);
    expect(missed[0]).toMatchObject({ firstSlotAt: T0 + MIN, lastSlotAt: T0 + MIN });
    await h.scheduler.stop({ inFlight: 'abort' });
  });

  it('a sync that lasts exactly one interval misses nothing', async () => {
    const h = makeHarness({ behaviour: (_f, _c, clock) => sleepOn(clock, MIN) });
    await h.scheduler.upsertFabric({ id: 'x', syncInterval: MIN });
    await h.scheduler.start();
    for (let i = 0; i < 20; i++) await h.clock.tickAsync(MIN);
    expect(h.runsOf('x').map((r) => r.start - T0)).toEqual(Array.from({ length: 21 }, (_, k) => k * MIN));
    expect(h.eventsOf('sync:missed')).toEqual([]);
    await h.scheduler.stop({ inFlight: 'abort' });
  });

  it('keeps 1,000 cycles of 10 fabrics with co-prime intervals exact (no drift, nothing early)', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    const intervals = [997, 1000, 1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049];
    for (const [i, interval] of intervals.entries()) await h.scheduler.upsertFabric({ id: `f${i}`, syncInterval: interval });
    await h.scheduler.start();
    await h.clock.tickAsync(1000 * 1049);
    for (const [i, interval] of intervals.entries()) {
      const runs = h.runsOf(`f${i}`);
      expect(runs.length).toBe(Math.floor((1000 * 1049) / interval) + 1);
      for (let k = 0; k < runs.length; k++) expect(runs[k]!.start).toBe(T0 + k * interval);
    }
    await h.stop();
  });

  it('accepts ISO-8601 durations', async () => {
    const h = makeHarness();
    const status = await h.scheduler.upsertFabric({ id: 'iso', syncInterval: 'PT1M30S', syncTimeout: 'PT10S' });
    expect(status.syncInterval).toBe(90_000);
    await h.scheduler.start();
    await h.clock.tickAsync(3 * 90_000);
    expect(h.runsOf('iso').map((r) => r.start - T0)).toEqual([0, 90_000, 180_000, 270_000]);
    await h.stop();
  });

  it('handles intervals longer than 2^31-1 ms (30 days) without overflow', async () => {
    const h = makeHarness();
    const month = 30 * 24 * 3600_000;
    await h.scheduler.upsertFabric({ id: 'monthly', syncInterval: month });
    await h.scheduler.start();
    await h.clock.tickAsync(month - 1);
    expect(h.runsOf('monthly')).toHaveLength(1);
    await h.clock.tickAsync(1);
    expect(h.runsOf('monthly')).toHaveLength(2);
    expect(h.runsOf('monthly')[1]!.start).toBe(T0 + month);
    await h.stop();
  });

  it('fencing tokens strictly increase per fabric', async () => {
    const h = makeHarness();
    await h.scheduler.upsertFabric({ id: 'a', syncInterval: 1000 });
    await h.scheduler.upsertFabric({ id: 'b', syncInterval: 700 });
    await h.scheduler.start();
    await h.clock.tickAsync(20_000);
    await h.scheduler.syncNow('a');
    for (const id of ['a', 'b']) {
      const tokens = h.runsOf(id).map((r) => r.fencingToken);
      expect(tokens.length).toBeGreaterThan(20);
      for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
    }
    await h.stop();
  });

  it('an idle scheduler arms no timer at all', async () => {
    const clock = createFakeClock({ now: T0 });
    const s = createScheduler({ clock, executor: () => undefined });
    await s.start();
    expect(clock.countTimers()).toBe(0);
    await s.upsertFabric({ id: 'a', syncInterval: 1000 });
    await clock.tickAsync(0);
    expect(clock.countTimers()).toBe(1);
    await s.removeFabric('a');
    expect(clock.countTimers()).toBe(0);
    await s.stop();
  });
});

describe('wall-clock trouble', () => {
  it('a wall-clock step forward by an hour fires nothing in a burst: the grid moves with the step', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'a', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(10 * MIN);
    expect(h.runs).toHaveLength(11);
    h.clock.setSystemTime(h.clock.now() + 3600_000);
    await h.clock.tickAsync(MIN);
    // one run, one interval after the previous one in elapsed time; no catch-up of 60 slots
    expect(h.runs).toHaveLength(12);
    expect(h.eventsOf('sync:missed')).toEqual([]);
    expect(h.eventsOf('clock:jump')).toHaveLength(1);
    expect(h.eventsOf('clock:jump')[0].skewMs).toBe(3600_000);
    await h.clock.tickAsync(5 * MIN);
    expect(h.runs).toHaveLength(17);
    await h.stop();
  });

  it('a wall-clock step back by an hour stalls nothing', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'a', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(10 * MIN);
    h.clock.setSystemTime(h.clock.now() - 3600_000);
    await h.clock.tickAsync(MIN);
    expect(h.runs).toHaveLength(12);
    await h.clock.tickAsync(5 * MIN);
    expect(h.runs).toHaveLength(17);
    // spacing in elapsed time stays one interval
    const starts = h.runs.map((r) => r.start);
    expect(starts[11]! - starts[10]!).toBe(MIN - 3600_000);
    expect(starts[16]! - starts[11]!).toBe(5 * MIN);
    expect((await h.scheduler.getFabricStatus('a'))!.nextSyncAt).toBe(starts[16]! + MIN);
    await h.stop();
  });

  it('an event-loop stall longer than several intervals runs one catch-up, not a burst (policy once)', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'a', syncInterval: 1000 });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    // Simulate a 5.5 s stall: time passes while no timer can fire.
    h.clock.jump(5500);
    await h.clock.tickAsync(0);
    expect(h.runs.length).toBe(2); // slot 0, then one catch-up for the latest missed slot
    expect(h.runs[1]!.scheduledAt).toBe(T0 + 5000);
    expect(h.runs[1]!.trigger).toBe('catch-up');
    expect(h.eventsOf('sync:missed')).toEqual([expect.objectContaining({ count: 4, reason: 'late', firstSlotAt: T0 + 1000, lastSlotAt: T0 + 4000 })]);
    await h.clock.tickAsync(500);
    expect(h.runs[2]!.start).toBe(T0 + 6000);
    await h.stop();
  });
});

describe('persistence and missed runs after downtime', () => {
  async function downtime(policy: 'skip' | 'once' | 'all', downMs: number) {
    const storage = new MemoryStorage();
    const clock = createFakeClock({ now: T0 });
    const a = makeHarness({ clock, storage, behaviour: () => undefined });
    await a.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await a.scheduler.start();
    await a.clock.tickAsync(2 * MIN); // runs at 0, 60, 120 s
    await a.stop();
    expect(a.runs).toHaveLength(3);
    await clock.tickAsync(downMs);
    // A new scheduler on the same storage, fed nothing by the host.
    const b = makeHarness({ clock, storage, missedRunPolicy: policy, behaviour: () => undefined });
    await b.scheduler.start();
    await clock.tickAsync(0);
    return b;
  }

  it("'once' (default) runs one catch-up at once for the latest missed slot, then goes back to the grid", async () => {
    const b = await downtime('once', 10 * MIN + 15_000); // down from 120 s to 735 s: slots 180…720 missed
    expect(b.runs).toHaveLength(1);
    expect(b.runs[0]).toMatchObject({ scheduledAt: T0 + 12 * MIN, start: T0 + 12 * MIN + 15_000, trigger: 'catch-up' });
    expect(b.eventsOf('sync:missed')).toEqual([expect.objectContaining({ count: 9, reason: 'downtime', firstSlotAt: T0 + 3 * MIN, lastSlotAt: T0 + 11 * MIN })]);
    await b.clock.tickAsync(MIN);
    expect(b.runs[1]!.start).toBe(T0 + 13 * MIN);
    await b.stop();
  });

  it("'skip' waits for the next slot", async () => {
    const b = await downtime('skip', 10 * MIN + 15_000);
    expect(b.runs).toHaveLength(0);
    expect(b.eventsOf('sync:missed')).toEqual([expect.objectContaining({ count: 10, reason: 'downtime' })]);
    await b.clock.tickAsync(45_000);
    expect(b.runs).toHaveLength(1);
    expect(b.runs[0]!.start).toBe(T0 + 13 * MIN);
    await b.stop();
  });

  it("'all' runs the missed slots back to back, bounded by maxCatchUpRuns", async () => {
    const b = await downtime('all', 10 * MIN + 15_000);
    await b.clock.tickAsync(1000);
    // 10 slots missed (180 s … 720 s); maxCatchUpRuns 10 serves all of them, oldest first
    expect(b.runs.map((r) => (r.scheduledAt - T0) / MIN)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(b.eventsOf('sync:missed')).toEqual([]);
    await b.clock.tickAsync(MIN);
    expect(b.runs.at(-1)!.scheduledAt).toBe(T0 + 13 * MIN);
    await b.stop();
    const c = await downtime('all', 100 * MIN);
    await c.clock.tickAsync(1000);
    expect(c.runs).toHaveLength(10);
    expect(c.eventsOf('sync:missed')[0]).toMatchObject({ count: 90, reason: 'downtime' });
    await c.stop();
  });

  it('a restored fabric with nothing missed keeps its grid exactly', async () => {
    const b = await downtime('once', 20_000); // stopped at 120 s, back at 140 s: next slot 180 s
    expect(b.runs).toHaveLength(0);
    await b.clock.tickAsync(40_000 - 1);
    expect(b.runs).toHaveLength(0);
    await b.clock.tickAsync(1);
    expect(b.runs[0]!.start).toBe(T0 + 3 * MIN);
    expect(b.runs[0]!.trigger).toBe('schedule');
    await b.stop();
  });
});

describe('first run', () => {
  it('a fabric defined long before start() syncs at start, and its grid is anchored there (nothing counted missed)', async () => {
    const h = makeHarness({ behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'early', syncInterval: MIN });
    await h.clock.tickAsync(7 * MIN + 1234); // the host defined it, but the scheduler starts later
    await h.scheduler.start();
    await h.clock.tickAsync(3 * MIN);
    const startAt = T0 + 7 * MIN + 1234;
    expect(h.runs.map((r) => r.start)).toEqual([startAt, startAt + MIN, startAt + 2 * MIN, startAt + 3 * MIN]);
    expect(h.runs[0]!.trigger).toBe('schedule');
    expect(h.eventsOf('sync:missed')).toEqual([]);
    await h.stop();
  });
});

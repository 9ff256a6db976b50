/**
 * Calendar fabrics on the scheduler (fake clock): refused definitions, out_of_sync after the last
 * two occurrences, catch-up after downtime counted in occurrences (by policy, per fabric, and
 * with a catch-up window).
 */
import { describe, expect, it } from 'vitest';
import { InvalidFabricError, MemoryStorage, createScheduler, type FabricDefinition, type SchedulerOptions, type SyncMissedEvent } from '../../src/index.js';
import { createFakeClock } from '../../src/testing.js';
import { T0, makeHarness } from '../helpers/harness.js';

const HOUR = 3_600_000;
const at = (iso: string): number => Date.parse(iso);

describe('calendar definitions', () => {
  it.each([
    [{ id: 'a', syncInterval: 1000, schedule: { cron: '* * * * *' } }, 'schedule'],
    [{ id: 'a' }, 'syncInterval'],
    [{ id: 'a', schedule: { cron: '61 * * * *' } }, 'schedule.cron'],
    [{ id: 'a', schedule: { cron: '0 2 * * *', timeZone: 'Mars/Olympus' } }, 'schedule.timeZone'],
    [{ id: 'a', schedule: { cron: '0 2 * * *', tz: 'UTC' } }, 'schedule'],
    [{ id: 'a', schedule: '0 2 * * *' }, 'schedule'],
    [{ id: 'a', schedule: { cron: '0 2 * * *' }, phase: 'spread' }, 'phase'],
    [{ id: 'a', syncInterval: 1000, phase: 'later' }, 'phase'],
    [{ id: 'a', syncInterval: 1000, jitter: -1 }, 'jitter'],
    [{ id: 'a', syncInterval: 1000, catchUpWindow: 'P1M' }, 'catchUpWindow'],
    [{ id: 'a', syncInterval: 1000, maxStaleness: 0 }, 'maxStaleness'],
    [{ id: 'a', syncInterval: 1000, missedRunPolicy: 'twice' }, 'missedRunPolicy'],
  ])('refuses %j naming %s, and stores nothing', async (definition, field) => {
    const h = makeHarness();
    const error = await h.scheduler.upsertFabric(definition as unknown as FabricDefinition).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidFabricError);
    expect((error as InvalidFabricError).field).toBe(field);
    expect(await h.scheduler.listFabrics()).toEqual([]);
  });

  it('shows the rule and the next occurrence in FabricStatus', async () => {
    const h = makeHarness({ now: at('2026-03-27T12:00:00Z') });
    await h.scheduler.upsertFabric({ id: 'nightly', schedule: { cron: '0 2 * * 1-5', timeZone: 'Europe/Berlin' } });
    await h.scheduler.start();
    await h.clock.tickAsync(100);
    expect(await h.scheduler.getFabricStatus('nightly')).toMatchObject({
      status: 'in_sync',
      syncInterval: null,
      schedule: { cron: '0 2 * * 1-5', timeZone: 'Europe/Berlin' },
      cadence: 'cron "0 2 * * 1-5" in Europe/Berlin',
      // Friday noon: the next weekday 02:00 is Monday, after the spring-forward Sunday (CEST)
      nextSyncAt: at('2026-03-30T00:00:00Z'),
    });
    await h.scheduler.stop({ inFlight: 'abort' });
  });
});

describe('out_of_sync on a calendar', () => {
  it('reads out_of_sync exactly when no success came since the last two occurrences', async () => {
    const h = makeHarness({ now: T0 + 10 * 60_000, behaviour: () => undefined });
    await h.scheduler.upsertFabric({ id: 'hourly', schedule: { cron: '0 * * * *' } });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    expect(h.runsOf('hourly')).toHaveLength(1); // at once, 00:10
    await h.scheduler.pause({ fabric: 'hourly' });
    await h.clock.tickAsync(2 * HOUR - 10 * 60_000 - 1); // 01:59:59.999: the last two occurrences are 00:00 and 01:00
    expect((await h.scheduler.getFabricStatus('hourly'))!.status).toBe('in_sync');
    await h.clock.tickAsync(1); // 02:00: 01:00 and 02:00, neither served
    expect((await h.scheduler.getFabricStatus('hourly'))!.status).toBe('out_of_sync');
    const withBound = makeHarness({ now: T0, behaviour: () => undefined });
    await withBound.scheduler.upsertFabric({ id: 'b', schedule: { cron: '0 * * * *' }, maxStaleness: 'PT90M' });
    await withBound.scheduler.start();
    await withBound.clock.tickAsync(0);
    await withBound.scheduler.pause({ fabric: 'b' });
    await withBound.clock.tickAsync(90 * 60_000);
    expect((await withBound.scheduler.getFabricStatus('b'))!.status).toBe('in_sync');
    await withBound.clock.tickAsync(1);
    expect((await withBound.scheduler.getFabricStatus('b'))!.status).toBe('out_of_sync');
    await h.scheduler.stop({ inFlight: 'abort' });
    await withBound.scheduler.stop({ inFlight: 'abort' });
  });
});

/** Runs a fabric, stops the scheduler, lets `down` pass, and starts a new scheduler on the same storage. */
async function downtime(definition: FabricDefinition, start: number, stopAt: number, restartAt: number, options: Partial<SchedulerOptions> = {}) {
  const clock = createFakeClock({ now: start });
  const storage = new MemoryStorage();
  const runs: Array<{ scheduledAt: number; start: number; trigger: string }> = [];
  const missed: SyncMissedEvent[] = [];
  const make = () => {
    const s = createScheduler({ ...options, clock, storage, retry: false, executor: (_f, ctx) => void runs.push({ scheduledAt: ctx.scheduledAt, start: clock.now(), trigger: ctx.trigger }) });
    s.on('sync:missed', (e) => missed.push(e));
    return s;
  };
  const first = make();
  await first.upsertFabric(definition);
  await first.start();
  await clock.tickAsync(stopAt - start);
  await first.stop();
  const before = runs.length;
  await clock.tickAsync(restartAt - stopAt);
  const second = make();
  await second.start();
  await clock.tickAsync(0);
  return { clock, runs, missed, before, second };
}

describe('catch-up after downtime, counted in occurrences', () => {
  const hourly = { id: 'h', schedule: { cron: '0 * * * *' } };
  const START = at('2026-03-02T00:00:00Z');
  const STOP = START + 1.5 * HOUR; // served 00:00 and 01:00
  const RESTART = START + 5.5 * HOUR; // 02:00, 03:00, 04:00, 05:00 came due while down

  it("'once' serves the latest occurrence at once and reports the others", async () => {
    const r = await downtime(hourly, START, STOP, RESTART);
    expect(r.runs.slice(0, r.before).map((x) => x.scheduledAt)).toEqual([START, START + HOUR]);
    expect(r.runs.slice(r.before)).toEqual([{ scheduledAt: START + 5 * HOUR, start: RESTART, trigger: 'catch-up' }]);
    expect(r.missed).toEqual([{ fabricId: 'h', count: 3, firstSlotAt: START + 2 * HOUR, lastSlotAt: START + 4 * HOUR, reason: 'downtime' }]);
    await r.clock.tickAsync(HOUR / 2);
    expect(r.runs.at(-1)).toEqual({ scheduledAt: START + 6 * HOUR, start: START + 6 * HOUR, trigger: 'schedule' });
    await r.second.stop();
  });

  it("'skip' waits for the next occurrence; 'all' serves each in order (per-fabric policy over the scheduler's)", async () => {
    const skip = await downtime({ ...hourly, missedRunPolicy: 'skip' }, START, STOP, RESTART, { missedRunPolicy: 'all' });
    expect(skip.runs.slice(skip.before)).toEqual([]);
    expect(skip.missed).toEqual([{ fabricId: 'h', count: 4, firstSlotAt: START + 2 * HOUR, lastSlotAt: START + 5 * HOUR, reason: 'downtime' }]);
    await skip.clock.tickAsync(HOUR / 2);
    expect(skip.runs.slice(skip.before).map((x) => x.start)).toEqual([START + 6 * HOUR]);
    await skip.second.stop();
    const all = await downtime(hourly, START, STOP, RESTART, { missedRunPolicy: 'all' });
    expect(all.runs.slice(all.before).map((x) => [x.scheduledAt - START, x.start, x.trigger])).toEqual([2, 3, 4, 5].map((k) => [k * HOUR, RESTART, 'catch-up']));
    expect(all.missed).toEqual([]);
    await all.second.stop();
  });

  it('catchUpWindow drops what is older and reports it; a fabric\'s own window overrides the scheduler\'s', async () => {
    const r = await downtime(hourly, START, STOP, RESTART, { missedRunPolicy: 'all', catchUpWindow: 'PT2H30M' });
    // cutoff 03:00: 02:00 is dropped, 03:00-05:00 are served
    expect(r.missed).toEqual([{ fabricId: 'h', count: 1, firstSlotAt: START + 2 * HOUR, lastSlotAt: START + 2 * HOUR, reason: 'catch-up-window' }]);
    expect(r.runs.slice(r.before).map((x) => x.scheduledAt - START)).toEqual([3 * HOUR, 4 * HOUR, 5 * HOUR]);
    await r.second.stop();
    const own = await downtime({ ...hourly, catchUpWindow: 'PT10M' }, START, STOP, RESTART, { catchUpWindow: 'P1D' });
    // every occurrence missed is older than 10 minutes: all dropped, the next one runs on time
    expect(own.missed).toEqual([{ fabricId: 'h', count: 4, firstSlotAt: START + 2 * HOUR, lastSlotAt: START + 5 * HOUR, reason: 'catch-up-window' }]);
    expect(own.runs.slice(own.before)).toEqual([]);
    await own.clock.tickAsync(HOUR / 2);
    expect(own.runs.slice(own.before).map((x) => x.start)).toEqual([START + 6 * HOUR]);
    await own.second.stop();
  });

  it('a weekday rule counts weekday occurrences, not elapsed days', async () => {
    // Friday 2026-03-06 03:00 Berlin to Tuesday 03:00: the Monday and Tuesday 02:00 runs came due
    const nightly = { id: 'n', schedule: { cron: '0 2 * * 1-5', timeZone: 'Europe/Berlin' } };
    const r = await downtime(nightly, at('2026-03-05T12:00:00Z'), at('2026-03-06T02:00:00Z'), at('2026-03-10T02:00:00Z'));
    expect(r.runs.slice(0, r.before).map((x) => x.scheduledAt)).toEqual([at('2026-03-05T12:00:00Z'), at('2026-03-06T01:00:00Z')]);
    expect(r.missed).toEqual([{ fabricId: 'n', count: 1, firstSlotAt: at('2026-03-09T01:00:00Z'), lastSlotAt: at('2026-03-09T01:00:00Z'), reason: 'downtime' }]);
    expect(r.runs.slice(r.before)).toEqual([{ scheduledAt: at('2026-03-10T01:00:00Z'), start: at('2026-03-10T02:00:00Z'), trigger: 'catch-up' }]);
    await r.second.stop();
  });
});

describe('wall-clock steps on a calendar', () => {
  it.each([-90_000, 90_000, -2 * HOUR])("with 'move-grid', a step of %i ms is followed by one run, then the fabric is back on its occurrences", async (step) => {
    const h = makeHarness({ now: T0, behaviour: () => undefined, clockSteps: 'move-grid' });
    await h.scheduler.upsertFabric({ id: 'c', schedule: { cron: '*/10 * * * *' } });
    await h.scheduler.start();
    await h.clock.tickAsync(25 * 60_000); // runs at 0, 10, 20 min
    h.clock.setSystemTime(h.clock.now() + step);
    await h.clock.tickAsync(2 * HOUR);
    const runs = h.runsOf('c').filter((r) => r.trigger === 'schedule' || r.trigger === 'catch-up');
    const after = runs.slice(3);
    expect(after.length).toBeGreaterThan(5);
    // the first run after the step may serve the renamed slot's occurrence; every later one serves an occurrence, once, never early
    for (const r of after.slice(1)) {
      expect(r.scheduledAt % (10 * 60_000)).toBe(0);
      expect(r.start).toBeGreaterThanOrEqual(r.scheduledAt);
    }
    expect(new Set(after.map((r) => r.scheduledAt)).size).toBe(after.length);
    expect(h.overlaps).toEqual([]);
    await h.scheduler.stop({ inFlight: 'abort' });
  });
});

describe('the failure breaker on a calendar', () => {
  it('probes a failing calendar fabric on its own occurrences, less often, and puts it back on every occurrence after a success', async () => {
    let ok = false;
    const h = makeHarness({
      now: T0 + 10 * 60_000,
      breaker: { after: 2, maxProbeInterval: 'PT4H' },
      behaviour: () => {
        if (!ok) throw new Error('down');
      },
    });
    await h.scheduler.upsertFabric({ id: 'c', schedule: { cron: '0 * * * *' } });
    await h.scheduler.start();
    await h.clock.tickAsync(24 * HOUR);
    const failing = h.runsOf('c');
    expect(failing[0]!.start).toBe(T0 + 10 * 60_000); // at once
    for (const r of failing.slice(1)) expect(r.start % HOUR).toBe(0); // on occurrences only
    expect(failing.length).toBeLessThan(12); // probed, not every hour
    const gaps = failing.slice(2).map((r, i) => r.start - failing[i + 1]!.start);
    expect(Math.max(...gaps)).toBe(4 * HOUR); // doubling up to maxProbeInterval
    ok = true;
    await h.clock.tickAsync(4 * HOUR);
    const recovered = h.runsOf('c').slice(failing.length);
    const firstOk = recovered[0]!.start;
    expect(recovered.map((r) => r.start - firstOk)).toEqual(recovered.map((_, k) => k * HOUR)); // every occurrence again
    await h.scheduler.stop({ inFlight: 'abort' });
  });
});

/**
 * Issue 9, rows 1-3: wall-clock steps. Slots are wall-clock names; everything that waits is
 * monotonic, and a detected step re-bases every armed entry once.
 */
import { describe, expect, it } from 'vitest';
import { DAY, HOUR, SECOND, T0, setup, settleOrAbandon, sleepOn } from './helpers.js';

/** A fabric failing after 100 ms of work, every 10 s with the default backoff; optionally the wall clock steps back 1 h mid-run. */
async function failingFabricOverAMinute(stepBack: boolean) {
  const h = setup({
    work: async (_f, _ctx, clock) => {
      await sleepOn(clock, 100);
      throw new Error('controller unreachable');
    },
  });
  await h.scheduler.upsertFabric({ id: 'f', syncInterval: 10 * SECOND });
  await h.scheduler.start();
  await h.clock.tickAsync(50); // the first run is in flight
  expect(h.calls).toHaveLength(1);
  const from = h.clock.monotonic();
  if (stepBack) h.clock.setSystemTime(h.clock.now() - HOUR);
  await h.clock.tickAsync(60 * SECOND);
  const calls = h.calls.filter((c) => c.mono > from && c.mono <= from + 60 * SECOND).length;
  await settleOrAbandon(h.clock, h.scheduler.stop({ inFlight: 'abort' }));
  return { calls, jumps: h.events.of('clock:jump') };
}

describe('a wall-clock step back does not multiply retries', () => {
  it('a wall-clock step back does not multiply retries of a failing fabric', async () => {
    const without = await failingFabricOverAMinute(false);
    const withStep = await failingFabricOverAMinute(true);
    expect(without.calls).toBeGreaterThan(0);
    expect(Math.abs(withStep.calls - without.calls)).toBeLessThanOrEqual(1);
  });

  it('a wall-clock step back is reported as exactly one clock:jump', async () => {
    const { jumps } = await failingFabricOverAMinute(true);
    expect(jumps).toHaveLength(1);
    expect(Math.abs(jumps[0]!.skewMs + HOUR)).toBeLessThanOrEqual(1_000);
  });
});

/** 100 fabrics at 30 s run for 5 s; the wall clock steps back 1 h; a 10 s fabric is added; 95 s pass. */
async function fabricAddedAfterStepBack() {
  const h = setup();
  const others = Array.from({ length: 100 }, (_, i) => `other-${i}`);
  for (const id of others) await h.scheduler.upsertFabric({ id, syncInterval: 30 * SECOND });
  await h.scheduler.start();
  await h.clock.tickAsync(5 * SECOND);
  h.clock.setSystemTime(h.clock.now() - HOUR);
  const stepAt = h.clock.monotonic();
  await h.scheduler.upsertFabric({ id: 'new', syncInterval: 10 * SECOND });
  await h.clock.tickAsync(95 * SECOND);
  const end = h.clock.monotonic();
  await settleOrAbandon(h.clock, h.scheduler.stop());
  return { h, others, stepAt, end };
}

describe('a wall-clock step back neither bursts nor stalls', () => {
  it('a fabric added after a step back runs once at upsert, then once per interval, never in a burst', async () => {
    const { h, stepAt } = await fabricAddedAfterStepBack();
    const fresh = h.callsOf('new').map((c) => c.mono - stepAt);
    expect(fresh[0]).toBeLessThan(SECOND); // at once
    const sameMs = fresh.filter((m, i) => i > 0 && m - fresh[i - 1]! < 1).length;
    expect(sameMs).toBe(0);
    expect(fresh.length).toBeGreaterThanOrEqual(9);
    expect(fresh.length).toBeLessThanOrEqual(11);
    const gaps = fresh.slice(1).map((m, i) => m - fresh[i]!);
    expect(gaps.filter((g) => Math.abs(g - 10 * SECOND) > 5)).toEqual([]);
  });

  it('a step back stalls no other fabric: each runs at least once in every 31 s', async () => {
    const { h, others, stepAt, end } = await fabricAddedAfterStepBack();
    const stalled = others.filter((id) => {
      const marks = [stepAt, ...h.callsOf(id).map((c) => c.mono).filter((m) => m > stepAt), end];
      return marks.some((m, i) => i > 0 && m - marks[i - 1]! > 31 * SECOND);
    });
    expect(stalled).toEqual([]);
  });
});

describe('a wall-clock step forward moves the grid with it', () => {
  it('a step forward during a run is not counted as overrun and the next run comes one interval after the last start', async () => {
    const h = setup({ work: (_f, _ctx, clock) => sleepOn(clock, 5 * SECOND) });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND });
    await h.scheduler.start();
    await h.clock.tickAsync(1 * SECOND); // the 5 s run is in flight
    h.clock.setSystemTime(h.clock.now() + DAY);
    await h.clock.tickAsync(65 * SECOND);

    expect(h.events.of('sync:missed').filter((m) => m.reason === 'overrun')).toEqual([]);
    const started = h.events.of('sync:started', 'f');
    expect(started.length).toBeGreaterThanOrEqual(2);
    const [first, second] = [started[0]!, started[1]!];
    expect(first.scheduledAt).toBe(T0);
    expect(Math.abs(second.mono - first.mono - 60 * SECOND)).toBeLessThanOrEqual(5);
    // default storage is memory: the grid moves with the step
    expect(second.scheduledAt).toBe(first.scheduledAt + 60 * SECOND + DAY);
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});

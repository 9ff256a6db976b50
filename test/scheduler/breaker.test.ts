/**
 * The failure breaker (issue 13 item 4), on the fake clock: probing less often after `after`
 * consecutive failures (doubling up to maxProbeInterval, on grid slots), status, metrics and
 * events, back on the grid after the first success, its interplay with the retry policy, and
 * two schedulers sharing a storage honouring it together.
 */
import { describe, expect, it } from 'vitest';
import { InProcessSingleFlight, InvalidOptionError, MemoryStorage, createScheduler } from '../../src/index.js';
import { breakerState, probeInterval } from '../../src/scheduler/breaker.js';
import { slotAtOrAfter } from '../../src/scheduler/grid.js';
import { T0, makeHarness } from '../helpers/harness.js';
import { createInvariantChecker } from '../../src/testing.js';

const SEC = 1_000;
const MIN = 60_000;
const BREAKER = { after: 3, maxProbeInterval: 8_000 };

describe('breaker math (pure)', () => {
  it('closed below `after`; then waits of 2, 4, 8… grid intervals, capped, never below the grid', () => {
    const b = { after: 3, maxProbeInterval: 8_000 };
    expect([1, 2, 3, 4, 5, 6, 9].map((f) => probeInterval(b, f, SEC))).toEqual([null, null, 2_000, 4_000, 8_000, 8_000, 8_000]);
    expect(probeInterval(false, 10, SEC)).toBeNull();
    // a cap below the grid interval: never more often than the grid
    expect(probeInterval({ after: 1, maxProbeInterval: 500 }, 5, SEC)).toBe(SEC);
  });
  it('the next probe is the latest slot at or before the last attempt plus the wait (the grid function is a parameter)', () => {
    const next = (t: number) => slotAtOrAfter(0, SEC, t);
    expect(breakerState(BREAKER, 3, 2_000, SEC, next)).toEqual({ failures: 3, probeInterval: 2_000, nextProbeAt: 4_000 });
    // an attempt that started 3 ms late does not push the probe a whole slot later
    expect(breakerState(BREAKER, 4, 4_003, SEC, next)).toEqual({ failures: 4, probeInterval: 4_000, nextProbeAt: 8_000 });
    expect(breakerState(BREAKER, 4, 4_999, SEC, next)).toEqual({ failures: 4, probeInterval: 4_000, nextProbeAt: 8_000 });
    expect(breakerState(BREAKER, 2, 4_000, SEC, next)).toBeNull();
  });
  it('refuses bad options with InvalidOptionError naming the field', () => {
    const make = (breaker: unknown) => () => createScheduler({ executor: () => undefined, breaker: breaker as never });
    expect(make({ after: 0, maxProbeInterval: 1_000 })).toThrow(InvalidOptionError);
    expect(make({ after: 0, maxProbeInterval: 1_000 })).toThrow(/breaker\.after/);
    expect(make({ after: 3 })).toThrow(/breaker\.maxProbeInterval/);
    expect(make({ after: 3, maxProbeInterval: -1 })).toThrow(/breaker\.maxProbeInterval/);
    expect(make({ after: 3, maxProbeInterval: 1_000, extra: 1 })).toThrow(/breaker\.extra/);
    expect(make('on')).toThrow(/breaker/);
    expect(make({ after: 2, maxProbeInterval: 'PT1M' })).not.toThrow();
    expect(make(false)).not.toThrow();
  });
});

describe('a 1 s fabric that always fails, breaker { after: 3, maxProbeInterval: 8000 }', () => {
  it('makes at most 15 attempts a minute, on grid slots at 0,1,2, 4, 8, 16, 24…; status error with the breaker visible', async () => {
    let failing = true;
    const h = makeHarness({ breaker: BREAKER, behaviour: () => { if (failing) throw new Error('down'); } });
    const opened: unknown[] = [];
    const closed: unknown[] = [];
    h.scheduler.on('breaker:opened', (e) => opened.push(e));
    h.scheduler.on('breaker:closed', (e) => closed.push(e));
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: SEC });
    await h.scheduler.start();
    await h.clock.tickAsync(MIN - 1);
    const starts = h.runs.map((r) => r.start - T0);
    expect(starts).toEqual([0, 1_000, 2_000, 4_000, 8_000, 16_000, 24_000, 32_000, 40_000, 48_000, 56_000]);
    expect(starts.length).toBeLessThanOrEqual(15);
    expect(opened).toEqual([{ fabricId: 'f', failures: 3, probeInterval: 2_000, nextProbeAt: T0 + 4_000, at: T0 + 2_000 }]);
    const status = await h.scheduler.getFabricStatus('f');
    expect(status).toMatchObject({ status: 'error', consecutiveFailures: 11, nextSyncAt: T0 + 64_000, breaker: { failures: 11, probeInterval: 8_000, nextProbeAt: T0 + 64_000 } });
    const m = h.scheduler.metrics();
    expect(m.breaker).toEqual({ open: 1, probes: 8 }); // every run from 4 s on was a probe
    // The target recovers at 60.5 s: the next probe (64 s) succeeds, within one probe interval,
    // and the fabric is back on its 1 s grid.
    await h.clock.tickAsync(501);
    failing = false;
    await h.clock.tickAsync(8_000);
    const after = h.runs.map((r) => r.start - T0).filter((t) => t >= MIN);
    expect(after).toEqual([64_000, 65_000, 66_000, 67_000, 68_000]);
    expect(after[0]! - 60_500).toBeLessThanOrEqual(BREAKER.maxProbeInterval);
    expect(closed).toEqual([{ fabricId: 'f', failures: 11, at: T0 + 64_000 }]);
    const back = await h.scheduler.getFabricStatus('f');
    expect(back).toMatchObject({ status: 'in_sync', consecutiveFailures: 0 });
    expect(back).not.toHaveProperty('breaker');
    expect(h.scheduler.metrics().breaker).toEqual({ open: 0, probes: 9 });
    await h.stop();
  });

  it('without the breaker (default false) it is tried at every slot', async () => {
    const h = makeHarness({ behaviour: () => { throw new Error('down'); } });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: SEC });
    await h.scheduler.start();
    await h.clock.tickAsync(MIN - 1);
    expect(h.runs).toHaveLength(60);
    expect(await h.scheduler.getFabricStatus('f')).not.toHaveProperty('breaker');
    await h.stop();
  });

  it('manual runs are not held back (they are probes too)', async () => {
    const h = makeHarness({ breaker: BREAKER, behaviour: () => { throw new Error('down'); } });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: SEC });
    await h.scheduler.start();
    await h.clock.tickAsync(2_500);
    expect(await h.scheduler.syncNow('f')).toMatchObject({ status: 'failed', trigger: 'manual' });
    expect(h.runs.map((r) => r.start - T0)).toEqual([0, 1_000, 2_000, 2_500]);
    await h.stop();
  });
});

describe('interplay with the retry policy', () => {
  it('retries count as failures; once the breaker is open no retry is planned, only probes', async () => {
    const h = makeHarness({ breaker: { after: 3, maxProbeInterval: 4 * MIN }, retry: { initialDelay: 1_000, multiplier: 2, maxDelay: 60_000 }, behaviour: () => { throw new Error('down'); } });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(10 * MIN);
    // slot 0 fails, retry at +1 s fails (2), retry at +3 s fails (3): open, next probe two
    // intervals after the last attempt (the latest slot at or before 3 s + 2 min: 2 min), then
    // 4 min (the cap) after each probe.
    expect(h.runs.map((r) => [r.trigger, r.start - T0])).toEqual([
      ['schedule', 0], ['retry', 1_000], ['retry', 3_000],
      ['schedule', 2 * MIN], ['schedule', 6 * MIN], ['schedule', 10 * MIN],
    ]);
    const failed = h.eventsOf('sync:failed');
    expect(failed.map((e: { nextRetryAt: number | null }) => e.nextRetryAt)).toEqual([T0 + 1_000, T0 + 3_000, null, null, null, null]);
    await h.stop();
  });
});

describe('two schedulers sharing a storage', () => {
  it('both honour the breaker: the stored failures hold back the one that did not record them', async () => {
    const storage = new MemoryStorage();
    const singleFlight = new InProcessSingleFlight();
    const fail = () => { throw new Error('down'); };
    const a = makeHarness({ storage, singleFlight, breaker: BREAKER, housekeepingInterval: 1_000, behaviour: fail });
    const b = makeHarness({ storage, singleFlight, clock: a.clock, breaker: BREAKER, housekeepingInterval: 1_000, behaviour: fail });
    const checker = createInvariantChecker();
    checker.attach(a.scheduler, { label: 'a' });
    checker.attach(b.scheduler, { label: 'b' });
    await a.scheduler.upsertFabric({ id: 'f', syncInterval: SEC });
    await a.scheduler.start();
    await b.scheduler.start();
    await a.clock.tickAsync(MIN - 1);
    const starts = [...a.runs, ...b.runs].map((r) => r.start - T0).sort((x, y) => x - y);
    expect(starts).toEqual([0, 1_000, 2_000, 4_000, 8_000, 16_000, 24_000, 32_000, 40_000, 48_000, 56_000]);
    expect(new Set(starts).size).toBe(starts.length);
    // The scheduler that did not record a failure learnt of the breaker at its claim.
    const held = [...a.eventsOf('sync:skipped'), ...b.eventsOf('sync:skipped')].filter((e: { reason: string }) => e.reason === 'breaker');
    expect(held.length).toBeGreaterThan(0);
    checker.assertNone();
    await a.stop();
    await b.stop();
  });
});

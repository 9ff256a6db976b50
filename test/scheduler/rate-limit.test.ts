/**
 * Queue rate limits (issue 14 item 5): a token bucket per queue and scheduler, on the fake clock
 * to the ms; runs wait in the backlog in due-time order with their lateness reported; one timer
 * for the next token; clearBacklog, pause and stop with runs waiting for tokens; validation.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError, createScheduler } from '../../src/index.js';
import { TokenBucket } from '../../src/scheduler/rate-limit.js';
import { T0, makeHarness } from '../helpers/harness.js';

const MIN = 60_000;
const API = { api: { rate: { runs: 10, per: 'PT1S' } } };

async function fleet(n: number, options: Parameters<typeof makeHarness>[0] = {}) {
  const h = makeHarness({ queues: API, behaviour: () => undefined, ...options });
  await h.scheduler.upsertFabrics(Array.from({ length: n }, (_, i) => ({ id: `f${String(i).padStart(2, '0')}`, syncInterval: MIN, queue: 'api' })));
  return h;
}

describe('token bucket (pure)', () => {
  it('a burst of `runs`, then one token every per / runs ms', () => {
    const b = new TokenBucket(10, 1_000, 0);
    for (let i = 0; i < 10; i++) {
      expect(b.has(0)).toBe(true);
      b.take(0);
    }
    expect(b.has(0)).toBe(false);
    expect(b.wait(0)).toBe(100);
    expect(b.wait(99)).toBe(1);
    expect(b.has(100)).toBe(true);
    b.take(100);
    expect(b.wait(150)).toBe(50);
    // refills up to its capacity, no more
    expect(b.wait(10_000)).toBe(0);
    for (let i = 0; i < 10; i++) b.take(10_000);
    expect(b.has(10_000)).toBe(false);
  });
  it('keeps fractional steps exact over time (3 per second)', () => {
    const b = new TokenBucket(3, 1_000, 0);
    for (let i = 0; i < 3; i++) b.take(0);
    const starts: number[] = [];
    for (let t = 0; t <= 3_000; t++) {
      if (b.has(t)) {
        b.take(t);
        starts.push(t);
      }
    }
    expect(starts).toEqual([334, 667, 1_000, 1_334, 1_667, 2_000, 2_334, 2_667, 3_000]);
  });
});

describe("queues: { api: { rate: { runs: 10, per: 'PT1S' } } }", () => {
  it('25 fabrics due together: 10 start at once, then one every 100 ms, in due-time order, lateness reported', async () => {
    const h = await fleet(25);
    const started: Array<{ id: string; lateness: number; startedAt: number }> = [];
    h.scheduler.on('sync:started', (e) => started.push({ id: e.fabricId, lateness: e.lateness, startedAt: e.startedAt }));
    await h.scheduler.start();
    await h.clock.tickAsync(2_000);
    const expected = [...Array(10).fill(0), ...Array.from({ length: 15 }, (_, i) => (i + 1) * 100)];
    expect(h.runs.map((r) => r.start - T0)).toEqual(expected);
    expect(h.runs.map((r) => r.id)).toEqual(Array.from({ length: 25 }, (_, i) => `f${String(i).padStart(2, '0')}`));
    expect(started.map((s) => s.lateness)).toEqual(expected);
    expect(h.scheduler.metrics().queues['api']!.lateness.max).toBe(1_500);
    // The next minute: the bucket is full again, same pattern from 60 s.
    await h.clock.tickAsync(MIN);
    expect(h.runs.slice(25).map((r) => r.start - T0)).toEqual(expected.map((t) => MIN + t));
    await h.stop();
  });

  it('one clock timer for the next token (no busy loop)', async () => {
    const h = await fleet(12);
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    expect(h.runs).toHaveLength(10);
    // Two runs wait for tokens: the only timers are the next token's and the fabrics' wheel.
    expect(h.clock.countTimers()).toBeLessThanOrEqual(2);
    await h.clock.tickAsync(99);
    expect(h.runs).toHaveLength(10);
    await h.clock.tickAsync(1);
    expect(h.runs).toHaveLength(11);
    await h.clock.tickAsync(100);
    expect(h.runs).toHaveLength(12);
    await h.stop();
  });

  it('other queues are not held by a rate-limited one', async () => {
    const h = await fleet(15);
    await h.scheduler.upsertFabric({ id: 'free', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    expect(h.runs.find((r) => r.id === 'free')?.start).toBe(T0);
    await h.stop();
  });

  it('clearBacklog drops runs waiting for tokens; they wait for their next slot', async () => {
    const h = await fleet(25);
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    expect(h.scheduler.backlogSize).toBe(15);
    expect(h.scheduler.clearBacklog('api')).toBe(15);
    await h.clock.tickAsync(MIN - 1);
    expect(h.runs).toHaveLength(10);
    await h.clock.tickAsync(1);
    expect(h.runs.length).toBeGreaterThanOrEqual(20);
    await h.stop();
  });

  it('pausing the queue drops its waiting runs (skipped paused); resuming serves them at the bucket rate', async () => {
    const h = await fleet(25);
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    await h.scheduler.pause({ queue: 'api' });
    expect(h.scheduler.backlogSize).toBe(0);
    expect(h.eventsOf('sync:skipped').filter((e: { reason: string }) => e.reason === 'paused')).toHaveLength(15);
    await h.clock.tickAsync(5_000);
    expect(h.runs).toHaveLength(10);
    await h.scheduler.resume({ queue: 'api' });
    await h.clock.tickAsync(2_000);
    // The 15 not served yet run from 5 s on: 10 at once (the bucket refilled), then every 100 ms.
    expect(h.runs.slice(10).map((r) => r.start - T0)).toEqual([...Array(10).fill(5_000), 5_100, 5_200, 5_300, 5_400, 5_500]);
    await h.stop();
  });

  it('stop with runs waiting for tokens settles and starts nothing afterwards', async () => {
    const h = await fleet(25);
    await h.scheduler.start();
    await h.clock.tickAsync(0);
    await h.stop();
    const n = h.runs.length;
    await h.clock.tickAsync(5_000);
    expect(h.runs).toHaveLength(n);
    expect(h.clock.countTimers()).toBe(0);
  });

  it('refuses bad rates with InvalidOptionError naming the field', () => {
    const make = (rate: unknown) => () => createScheduler({ executor: () => undefined, queues: { api: { rate: rate as never } } });
    expect(make({ runs: 0, per: 'PT1S' })).toThrow(InvalidOptionError);
    expect(make({ runs: 0, per: 'PT1S' })).toThrow(/queues\.api\.rate\.runs/);
    expect(make({ runs: 1.5, per: 1000 })).toThrow(/queues\.api\.rate\.runs/);
    expect(make({ runs: 10 })).toThrow(/queues\.api\.rate\.per/);
    expect(make({ runs: 10, per: 'soon' })).toThrow(/queues\.api\.rate\.per/);
    expect(make({ runs: 10, per: 1000, burst: 3 })).toThrow(/queues\.api\.rate\.burst/);
    expect(make(10)).toThrow(/queues\.api\.rate/);
    expect(make({ runs: 10, per: 'PT1S' })).not.toThrow();
  });
});

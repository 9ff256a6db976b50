/**
 * A run serving a slot that came due while the fabric was not scheduled (paused, scheduler
 * down) is labelled `catch-up`, however many slots were missed with it; a run on time is
 * `schedule`. (It used to depend on whether one slot or several had come due.)
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/index.js';
import { T0, makeHarness } from '../helpers/harness.js';

describe('the trigger of the first run after a pause or a restart', () => {
  it.each([
    ['one slot', 1_500],
    ['several slots', 5_500],
  ])('after a pause that covered %s it is catch-up, then schedule again', async (_name, pausedFor) => {
    const h = makeHarness();
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 1_000 });
    await h.scheduler.start();
    await h.clock.tickAsync(100);
    await h.scheduler.pause({ fabric: 'f' });
    await h.clock.tickAsync(pausedFor);
    await h.scheduler.resume({ fabric: 'f' });
    await h.clock.tickAsync(2_000);
    const triggers = h.runsOf('f').map((r) => r.trigger);
    expect(triggers[0]).toBe('schedule');
    expect(triggers[1]).toBe('catch-up');
    expect(triggers.slice(2).every((t) => t === 'schedule')).toBe(true);
    await h.stop();
  });

  it('a resume before the next slot came due leaves it a scheduled run', async () => {
    const h = makeHarness();
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 1_000 });
    await h.scheduler.start();
    await h.clock.tickAsync(100);
    await h.scheduler.pause({ fabric: 'f' });
    await h.clock.tickAsync(300);
    await h.scheduler.resume({ fabric: 'f' });
    await h.clock.tickAsync(1_000);
    expect(h.runsOf('f').map((r) => [r.trigger, r.scheduledAt - T0])).toEqual([['schedule', 0], ['schedule', 1_000]]);
    await h.stop();
  });

  it('after a restart that missed one slot it is catch-up', async () => {
    const storage = new MemoryStorage();
    const first = makeHarness({ storage });
    await first.scheduler.upsertFabric({ id: 'f', syncInterval: 1_000 });
    await first.scheduler.start();
    await first.clock.tickAsync(100);
    await first.stop();
    const second = makeHarness({ storage, now: T0 + 1_500 });
    await second.scheduler.start();
    await second.clock.tickAsync(10);
    expect(second.runsOf('f').map((r) => [r.trigger, r.scheduledAt - T0])).toEqual([['catch-up', 1_000]]);
    await second.stop();
  });
});

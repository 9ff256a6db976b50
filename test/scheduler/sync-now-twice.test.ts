import { describe, expect, it } from 'vitest';
import { InProcessSingleFlight, type Lease, type SingleFlight } from '../../src/index.js';
import { createFakeClock } from '../../src/testing.js';
import { makeHarness, sleepOn } from '../helpers/harness.js';

const MIN = 60_000;

describe('syncNow right after syncNow', () => {
  it('a second syncNow awaited after the first one resolved runs again (not skipped as in-flight), even while the first lease is still being released', async () => {
    const clock = createFakeClock({ now: Date.parse('2026-03-01T00:00:00Z') });
    // A release that takes a round trip (as on Redis): 30 ms on the fake clock.
    const inner = new InProcessSingleFlight();
    const singleFlight: SingleFlight = {
      async acquire(id) {
        const lease = (await inner.acquire(id)) as Lease | undefined;
        if (!lease) return undefined;
        return { ...lease, release: async () => { await sleepOn(clock, 30); await lease.release(); } };
      },
    };
    const h = makeHarness({ clock, singleFlight, behaviour: (_f, _c, c) => sleepOn(c, 100) });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: MIN });
    await h.scheduler.start();
    await h.clock.tickAsync(1000);
    for (let i = 0; i < 3; i++) {
      // The answer comes at +100 ms (the run's outcome is written); its lock is released at +130.
      const pending = h.scheduler.syncNow('f');
      await h.clock.tickAsync(100);
      expect(await pending).toMatchObject({ status: 'succeeded', trigger: 'manual' });
      // Asked while the lock is still being released: it waits for that, then runs.
      const next = h.scheduler.syncNow('f');
      await h.clock.tickAsync(200);
      expect(await next).toMatchObject({ status: 'succeeded', trigger: 'manual' });
      await h.clock.tickAsync(100);
    }
    expect(h.runs.filter((r) => r.trigger === 'manual')).toHaveLength(6);
    expect(h.overlaps).toEqual([]);
    await h.stop();
  });
});

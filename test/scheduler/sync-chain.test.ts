/**
 * Runs that end synchronously (in-memory storage, in-process lock, synchronous executor) start the
 * next run of a catch-up chain from their own end; a chain of 20,000 must neither overflow the
 * stack (past 32 runs deep the chain goes on in a microtask) nor hold the event loop for its whole
 * length (every 8,192 runs it waits for a 0 ms timer, as a due burst does).
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage, createScheduler } from '../../src/index.js';
import { createFakeClock } from '../../src/testing.js';
import { T0 } from '../helpers/harness.js';

describe('a synchronous catch-up chain of 20,000 runs', () => {
  it('serves every missed slot once, in order, with no error and no stack overflow, and lets other timers in along the way', async () => {
    const clock = createFakeClock({ now: T0 });
    const storage = new MemoryStorage();
    const first = createScheduler({ clock, storage, executor: () => undefined, retry: false });
    await first.upsertFabric({ id: 'f', syncInterval: 1000 });
    await first.start();
    await clock.tickAsync(2_500);
    await first.stop();
    const n = 20_000;
    await clock.tickAsync(n * 1000);
    const slots: number[] = [];
    const errors: unknown[] = [];
    const second = createScheduler({ clock, storage, executor: (_f, ctx) => void slots.push(ctx.scheduledAt), retry: false, missedRunPolicy: 'all', maxCatchUpRuns: n });
    second.on('error', (e) => errors.push(e.error));
    await second.start();
    let seenByHostTimer = -1;
    clock.setTimeout(() => (seenByHostTimer = slots.length), 0);
    // the chain's yields are 0 ms timers; 50 ms of fake time serve them all (the next slot is 1 s away)
    await clock.tickAsync(50);
    expect(errors).toEqual([]);
    expect(slots.length).toBeGreaterThanOrEqual(n);
    // every slot once, in order, on the grid of the first run
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(1000);
    expect(new Set(slots).size).toBe(slots.length);
    // the host's timer ran while the chain was under way
    expect(seenByHostTimer).toBeGreaterThanOrEqual(0);
    expect(seenByHostTimer).toBeLessThan(slots.length);
    await second.stop();
  });
});

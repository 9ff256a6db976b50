/**
 * A burst of due fabrics far larger than one chunk: every fabric runs once, in order, and the
 * scheduler lets the event loop (here: a timer of the host on the same clock) in between.
 */
import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../src/index.js';
import { createFakeClock } from '../../src/testing.js';
import { T0 } from '../helpers/harness.js';

describe('a burst of 20,000 fabrics due at once', () => {
  it('runs every fabric once, in order, and yields to other timers along the way', async () => {
    const clock = createFakeClock({ now: T0 });
    const ran: string[] = [];
    const scheduler = createScheduler({ clock, executor: (fabric) => void ran.push(fabric.id), retry: false });
    const n = 20_000;
    await scheduler.upsertFabrics(Array.from({ length: n }, (_, i) => ({ id: `f${i}`, syncInterval: 60_000 })));
    let seenByHostTimer = -1;
    await scheduler.start();
    clock.setTimeout(() => (seenByHostTimer = ran.length), 0);
    await clock.tickAsync(100);
    expect(ran).toHaveLength(n);
    expect(ran.slice(0, 3)).toEqual(['f0', 'f1', 'f2']);
    expect(new Set(ran).size).toBe(n);
    expect(seenByHostTimer).toBeGreaterThan(0);
    expect(seenByHostTimer).toBeLessThan(n);
    await scheduler.stop();
  });
});

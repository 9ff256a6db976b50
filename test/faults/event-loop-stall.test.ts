/**
 * Fault suite: a real 5 s event-loop stall on the system clock (nothing fake). The stall blocks
 * this whole test worker, which is why it has a file of its own. Tolerances are wide: the
 * machine is shared.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createScheduler, type SchedulerEvents } from '../../src/index.js';
import { trapUnhandled } from '../helpers/faults.js';
import { sleep } from '../helpers/wait.js';

const trap = trapUnhandled();
afterEach(() => {
  trap.dispose();
  expect(trap.seen).toEqual([]);
});

describe('a real 5 s event-loop stall (system clock)', () => {
  it("fires nothing in a burst afterwards: one catch-up for the latest missed slot (policy 'once'), the rest reported missed, then the same grid", { timeout: 30_000 }, async () => {
    const INTERVAL = 500;
    const runs: Array<{ at: number; scheduledAt: number; trigger: string }> = [];
    const missed: Array<Parameters<SchedulerEvents['sync:missed']>[0]> = [];
    const jumps: unknown[] = [];
    const scheduler = createScheduler({
      retry: false,
      executor: (_f, ctx) => {
        runs.push({ at: Date.now(), scheduledAt: ctx.scheduledAt, trigger: ctx.trigger });
      },
    });
    scheduler.on('sync:missed', (e) => missed.push(e));
    scheduler.on('clock:jump', (e) => jumps.push(e));
    await scheduler.upsertFabric({ id: 'a', syncInterval: INTERVAL });
    await scheduler.start();
    await sleep(1_300);
    const anchor = runs[0]!.scheduledAt;
    const before = runs.length;
    // the stall: a synchronous busy loop, as a runaway computation or a GC pause would be
    const stallStart = Date.now();
    while (Date.now() - stallStart < 5_000) {
      /* spin */
    }
    const stallEnd = Date.now();
    await sleep(2_500);
    await scheduler.stop();

    const after = runs.slice(before);
    // slots that came due during the stall are served by one run (a slot due just after the stall may follow on the grid)
    const burst = after.filter((r) => r.scheduledAt < stallEnd);
    expect(burst.length, 'runs for slots that came due during the stall').toBe(1);
    expect(after[0]!.trigger).toBe('catch-up');
    expect(after[0]!.scheduledAt).toBeGreaterThan(stallEnd - INTERVAL - 1); // the latest missed slot, not the oldest
    const late = missed.filter((m) => m.reason === 'late');
    const reported = late.reduce((n, m) => n + m.count, 0);
    expect(reported).toBeGreaterThanOrEqual(8); // ~9 slots fell inside the stall
    expect(reported).toBeLessThanOrEqual(11);
    // the grid is kept: every slot is anchor + k * interval, and runs go on
    for (const r of runs) expect((r.scheduledAt - anchor) % INTERVAL).toBe(0);
    expect(after.length).toBeGreaterThanOrEqual(4);
    expect(jumps).toEqual([]); // a stall is time passing, not a wall-clock step
    console.log(`5 s stall: ${reported} slots reported missed, ${burst.length} run for the slots of the stall, first run ${after[0]!.at - stallEnd} ms after the stall, ${after.length} runs in the 2.5 s after`);
  });
});

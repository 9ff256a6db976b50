/**
 * Issue 9, rows 8 and 10: a throwing listener never hurts the host, and `await scheduler.stop()`
 * at the end of a fake-clock test settles without the test ticking.
 */
import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../src/index.js';
import { createFakeClock } from '../../src/testing.js';
import { SECOND, T0, collectUnhandled, setup, settleOrAbandon, sleepOn, withinRealTime } from './helpers.js';

describe('a throwing listener never hurts the host', () => {
  it('an async listener that rejects is reported as an error event (listener), never an unhandled rejection', async () => {
    const h = setup();
    h.scheduler.on('sync:succeeded', async () => {
      throw new Error('x');
    });
    const unhandled = await collectUnhandled(async () => {
      await h.scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND });
      await h.scheduler.start();
      await h.clock.tickAsync(100);
      await h.clock.flush();
    });
    expect(unhandled.map((r) => String(r))).toEqual([]);
    expect(h.events.of('error').map((e) => `${e.operation}: ${e.error.message}`)).toEqual(['listener: x']);
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});

describe('stop() in a fake-clock test cannot deadlock', () => {
  it('await stop() with default options settles while a sync sleeps on the fake clock, and the sleep completes', async () => {
    const clock = createFakeClock({ now: T0 });
    const order: string[] = [];
    const scheduler = createScheduler({
      clock,
      executor: async () => {
        await sleepOn(clock, 5 * SECOND);
        order.push('sync slept 5 s');
      },
    });
    const succeeded: string[] = [];
    scheduler.on('sync:succeeded', (e) => succeeded.push(e.fabricId));
    await scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND });
    await scheduler.start();
    await clock.tickAsync(0); // lets the immediate run begin; no time passes
    expect(scheduler.inFlightCount).toBe(1);
    clock.setTimeout(() => order.push('test timer at 2 s'), 2 * SECOND);

    const outcome = await withinRealTime(scheduler.stop(), 1_000);
    expect(outcome).toBe('settled');
    expect(succeeded).toEqual(['f']);
    expect(order).toEqual(['test timer at 2 s', 'sync slept 5 s']);
  });
});

/**
 * Issue 9, row 4: durations past the platform timer limit (2^31-1 ms, about 24.8 days) are
 * chained or refused, never truncated: no timer fires early.
 */
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/index.js';
import { DAY, SECOND, type SetupOptions, never, observe, passThroughStorage, setup, settleOrAbandon, sleepOn, tickGrowing } from './helpers.js';

const TIMER_LIMIT = 2 ** 31 - 1;

/** A fabric whose run never returns and only notes when its signal aborts. */
function hangingRun(options: Omit<SetupOptions, 'work'> = {}) {
  let abortedAt: number | undefined;
  const h = setup({
    ...options,
    work: (_f, ctx, clock) => {
      ctx.signal.addEventListener('abort', () => (abortedAt = clock.now()));
      return never();
    },
  });
  return { h, abortedAt: () => abortedAt };
}

describe('a syncTimeout past the timer limit never fires early', () => {
  it("a 10 ms run under syncTimeout 'P30D' succeeds", async () => {
    const h = setup();
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND, syncTimeout: 'P30D' });
    await h.scheduler.start();
    await h.clock.tickAsync(100);
    expect(h.events.of('sync:failed', 'f').map((e) => `${e.reason} after ${e.durationMs} ms`)).toEqual([]);
    expect(h.events.of('sync:succeeded', 'f')).toHaveLength(1);
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });

  it("a hanging run under syncTimeout 'P30D' runs 30 days, then fails as timed out", async () => {
    const { h } = hangingRun();
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 'P60D', syncTimeout: 'P30D' });
    await h.scheduler.start();
    const failedEarly = () => h.events.of('sync:failed', 'f').length > 0;
    await tickGrowing(h.clock, 30 * DAY - SECOND, failedEarly);
    expect(h.events.of('sync:failed', 'f').map((e) => `${e.reason} after ${e.durationMs} ms`)).toEqual([]);
    expect(h.scheduler.inFlightCount).toBe(1);
    await h.clock.tickAsync(2 * SECOND);
    expect(h.events.of('sync:failed', 'f').map((e) => e.reason)).toEqual(['timeout']);
    await settleOrAbandon(h.clock, h.scheduler.stop({ inFlight: 'abort' }));
  });
});

describe('a drainTimeout past the timer limit never aborts early', () => {
  it.each([
    ['the shutdown option at 30 days', { shutdown: { drainTimeout: 30 * DAY } }, undefined],
    ['stop({ drainTimeout: 40 days })', {}, { drainTimeout: 40 * DAY }],
  ] as const)('stop() with %s does not abort a hanging run within 25 days', async (_name, options, stopOptions) => {
    const { h, abortedAt } = hangingRun(options);
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND });
    await h.scheduler.start();
    await h.clock.tickAsync(10);
    expect(h.scheduler.inFlightCount).toBe(1);
    const stopped = observe(h.scheduler.stop(stopOptions));
    await tickGrowing(h.clock, 25 * DAY, () => stopped.settled || abortedAt() !== undefined);
    expect({ abortedAfter: abortedAt() === undefined ? undefined : abortedAt()! - h.calls[0]!.at, stopped: stopped.settled }).toEqual({ abortedAfter: undefined, stopped: false });
  });
});

describe('a housekeepingInterval past the timer limit never fires early', () => {
  it("housekeepingInterval 'P30D' on a shared storage lists nothing in the first 29 days", async () => {
    const shared = passThroughStorage();
    const h = setup({ storage: shared.storage, extra: { housekeepingInterval: 'P30D' } });
    await h.scheduler.start();
    const atStart = shared.count.list;
    const elapsed = await tickGrowing(h.clock, 29 * DAY, () => shared.count.list > atStart);
    expect({ listCalls: shared.count.list - atStart, elapsed }).toEqual({ listCalls: 0, elapsed: 29 * DAY });
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});

describe('a lockTtl past the timer limit never fails a run early', () => {
  it('lockTtl 2^31 ms is refused with InvalidOptionError or lets a 5 s run succeed', async () => {
    let h: ReturnType<typeof setup>;
    try {
      h = setup({ lockTtl: TIMER_LIMIT + 1, work: (_f, _ctx, clock) => sleepOn(clock, 5 * SECOND) });
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError);
      return;
    }
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: 60 * SECOND });
    await h.scheduler.start();
    await h.clock.tickAsync(6 * SECOND);
    expect(h.events.of('sync:failed', 'f').map((e) => `${e.reason} after ${e.durationMs} ms`)).toEqual([]);
    expect(h.events.of('sync:succeeded', 'f')).toHaveLength(1);
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});

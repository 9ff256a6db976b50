/**
 * Issue 9, row 11: when several schedulers create the same fabric at once, the stored anchor
 * wins and every replica adopts it before arming; no run starts before its slot.
 */
import { describe, expect, it } from 'vitest';
import { InProcessSingleFlight, MemoryStorage, type SyncStartedEvent } from '../../src/index.js';
import { SECOND, setup, settleOrAbandon } from './helpers.js';

const INTERVAL = SECOND;

/** Two schedulers on one storage start, then upsert the same new fabric 13 ms apart; 10 s pass. */
async function twoReplicasUpsertTogether(shareSingleFlight: boolean) {
  const storage = new MemoryStorage();
  const shared = new InProcessSingleFlight();
  const flight = () => (shareSingleFlight ? shared : new InProcessSingleFlight());
  const a = setup({ storage, singleFlight: flight() });
  const b = setup({ storage, singleFlight: flight(), clock: a.clock });
  await a.scheduler.start();
  await b.scheduler.start();
  await a.scheduler.upsertFabric({ id: 'f', syncInterval: INTERVAL });
  await a.clock.tickAsync(13);
  await b.scheduler.upsertFabric({ id: 'f', syncInterval: INTERVAL });
  await a.clock.tickAsync(10 * SECOND);
  const started: SyncStartedEvent[] = [...a.events.of('sync:started', 'f'), ...b.events.of('sync:started', 'f')];
  const anchor = (await storage.get('f'))!.state.anchorAt!;
  await settleOrAbandon(a.clock, a.scheduler.stop());
  await settleOrAbandon(a.clock, b.scheduler.stop());
  return { started, anchor };
}

describe.each([
  ['one shared InProcessSingleFlight', true],
  ['separate InProcessSingleFlights', false],
])('two replicas creating the same fabric follow one grid (%s)', (_name, shareSingleFlight) => {
  it('no run starts before its slot', async () => {
    const { started } = await twoReplicasUpsertTogether(shareSingleFlight);
    expect(started.filter((e) => e.startedAt < e.scheduledAt).map((e) => `${e.trigger} ${e.startedAt - e.scheduledAt} ms early`)).toEqual([]);
  });

  it('every scheduled run lies on the stored grid, each slot run once across both', async () => {
    const { started, anchor } = await twoReplicasUpsertTogether(shareSingleFlight);
    const slots = started.filter((e) => e.trigger === 'schedule').map((e) => e.scheduledAt);
    expect(slots.filter((s) => (s - anchor) % INTERVAL !== 0).map((s) => `${s - anchor} ms after the anchor`)).toEqual([]);
    expect(slots.length).toBeGreaterThanOrEqual(9);
    expect(new Set(slots).size).toBe(slots.length);
  });
});

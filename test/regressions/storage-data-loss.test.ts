/**
 * Found by the soak (seed 23409, `redis-restart-empty`): after the storage loses a record (Redis
 * restarted without its data, a failover to a lagging replica), the record the claim re-registers
 * starts again at a low version. The runtime's cache kept the pre-loss record because it only takes
 * records of a higher version, so every later run measured its "missed" slots from the pre-loss
 * `lastSlotAt`: each run reported the slots since the loss as missed (`overrun`) although every one
 * of them ran. 200 fabrics x 2-4 slots of false `sync:missed` in a 60 s soak, which the soak's
 * checker then counted as "reported missed" and would have excused real losses with.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStorage } from '../../src/index.js';
import { SECOND, passThroughStorage, settleOrAbandon, setup } from './helpers.js';

const INTERVAL = SECOND;

describe('a record lost by the storage and re-registered', () => {
  it('later runs are measured from the re-registered record: no slot that ran is reported missed', async () => {
    // A shared storage whose data can be lost whole (versions and fences included), like Redis restarted empty.
    let data = new MemoryStorage();
    const { storage } = passThroughStorage(data, {
      get: (_, id) => data.get(id),
      list: () => data.list() as never,
      write: (_, id, value, expected) => data.write(id, value, expected),
      delete: (_, id, expected) => data.delete(id, expected),
    });
    const h = setup({ storage, housekeepingInterval: 0, retry: false });
    await h.scheduler.upsertFabric({ id: 'f', syncInterval: INTERVAL });
    await h.scheduler.start();
    await h.clock.tickAsync(10 * INTERVAL + 100);
    const before = (await storage.get('f'))!;
    expect(before.version).toBeGreaterThan(10);
    // The storage loses the record behind the scheduler's back (what an empty Redis restart does).
    data = new MemoryStorage();
    const ranBefore = h.callsOf('f').length;
    await h.clock.tickAsync(6 * INTERVAL);
    const after = (await storage.get('f'))!;
    expect(after.version).toBeLessThan(before.version); // the precondition: versions went back
    const slots = h.callsOf('f').slice(ranBefore).map((c) => c.ctx.scheduledAt);
    expect(slots).toHaveLength(6); // every slot after the loss ran...
    for (let i = 1; i < slots.length; i++) expect(slots[i]! - slots[i - 1]!).toBe(INTERVAL);
    expect(h.events.of('sync:missed', 'f')).toEqual([]); // ...so none is reported missed
    // and the tokens still rise
    const tokens = h.callsOf('f').map((c) => c.ctx.fencingToken);
    expect([...tokens].sort((a, b) => a - b)).toEqual(tokens);
    await settleOrAbandon(h.clock, h.scheduler.stop());
  });
});

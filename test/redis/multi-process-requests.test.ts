/**
 * requestSync and the failure breaker across real processes on the real Redis (issue 13): a
 * request made on one replica while another runs the fabric gives exactly one follow-up run; two
 * replicas honour the breaker's probing together. Scenarios in test/helpers/multi-process-scenarios.ts.
 * Real time by nature; tolerances are wide.
 */
import { describe, it } from 'vitest';
import { createScheduler, type SingleFlight } from '../../src/index.js';
import { RedisStorage, RedlockSingleFlight } from '../../src/redis/index.js';
import { breakerAcrossReplicas, realRedisFleet, requestSyncAcrossReplicas } from '../helpers/multi-process-scenarios.js';
import { REDIS_URL, realClient } from '../helpers/redis.js';

const fleet = realRedisFleet({ redisUrl: REDIS_URL });

describe('requestSync across processes (real Redis)', () => {
  it("a request made on one replica while another runs the fabric: 'queued', 'coalesced', exactly one follow-up run", { timeout: 60_000 }, async () => {
    await requestSyncAcrossReplicas({
      fleet,
      label: 'redis',
      makeRequester: async (prefix) => {
        const client = realClient();
        const redlock = new RedlockSingleFlight({ clients: [client], prefix, partition: false });
        // A replica that leaves every scheduled slot to the child (shouldRun false), so the child is the one running the fabric.
        const singleFlight: SingleFlight = { acquire: (id, options) => redlock.acquire(id, options), shouldRun: () => false };
        let manual = 0;
        const scheduler = createScheduler({ storage: new RedisStorage({ client, prefix }), singleFlight, housekeepingInterval: 200, executor: (_f, ctx) => void (ctx.trigger === 'manual' && manual++) });
        await scheduler.start();
        return {
          requestSync: (id) => scheduler.requestSync(id),
          manualRuns: () => manual,
          close: async () => {
            await scheduler.stop();
            await redlock.close();
            client.disconnect();
          },
        };
      },
    });
  });
});

describe('the failure breaker across processes (real Redis)', () => {
  it('two replicas trying every slot of a failing 1 s fabric both wait for its probes', { timeout: 60_000 }, async () => {
    await breakerAcrossReplicas({ fleet, label: 'redis' });
  });
});

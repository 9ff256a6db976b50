/**
 * Soak finding: `RedlockSingleFlight` used to join the membership set in its constructor, before
 * any scheduler used it. Partitioning then hands a
 * share of the fabrics to a replica whose host is still loading definitions (or never calls
 * `start()`): the running replicas skip those fabrics ("another replica is responsible") and
 * nobody runs them until that replica starts. In the soak, a replacement replica heartbeats from
 * construction while it upserts 200 fabrics and compiles (seconds on a loaded machine), inside the
 * kill window today, outside it when the machine is slow.
 *
 * Now a replica is a member only while a scheduler runs on it (`SingleFlight.start`/`stop`,
 * called by the scheduler's `start()` and `stop()`).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createScheduler } from '../../src/index.js';
import { RedisStorage, RedlockSingleFlight, ownerOf, redisKeys } from '../../src/redis/index.js';
import { cleanupPrefix, randomPrefix, realClient } from '../helpers/redis.js';
import { sleep, until } from '../helpers/wait.js';

const client = realClient();
const prefix = randomPrefix('early-member');
afterAll(async () => {
  await cleanupPrefix(client, prefix);
  client.disconnect();
});

describe('membership before start', () => {
  it('fabrics hashed to a replica that has not started its scheduler still run on the running one', async () => {
    const options = { clients: [client], prefix, membershipTtl: 3_000, heartbeatInterval: 100 };
    const a = new RedlockSingleFlight({ ...options, replicaId: 'a' });
    const idle = new RedlockSingleFlight({ ...options, replicaId: 'b' }); // its host is still loading
    const ids = Array.from({ length: 20 }, (_, i) => `f${i}`);
    expect(ids.filter((id) => ownerOf(id, ['a', 'b']) === 'b').length).toBeGreaterThan(0);
    const ran = new Set<string>();
    const scheduler = createScheduler({ storage: new RedisStorage({ client, prefix }), singleFlight: a, executor: (f) => void ran.add(f.id) });
    try {
      await Promise.all([a.ready(), idle.ready()]);
      await sleep(300); // a's membership now lists b
      for (const id of ids) await scheduler.upsertFabric({ id, syncInterval: 200 });
      await scheduler.start();
      await until(() => ran.size === ids.length, 2_000, 'every fabric ran once');
      await until(() => a.members?.includes('a') === true, 2_000, 'a joined once its scheduler ran');
      expect(a.members).not.toContain('b');
      await scheduler.stop();
      expect(await client.zscore(`${redisKeys(prefix).members}`, 'a')).toBeNull(); // left at stop
    } finally {
      await scheduler.stop();
      await Promise.all([a.close(), idle.close()]);
    }
  });
});

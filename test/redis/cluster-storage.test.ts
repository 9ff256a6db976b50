/**
 * RedisStorage on a real local Redis Cluster (3 masters, started by the test): the whole storage
 * contract, prefixes and ids with braces, and what is specific to the cluster (each fabric's keys
 * in one slot, fabrics spread over the masters, fleet keys written in separate commands).
 */
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisEvictionWarning } from '../../src/redis/errors.js';
import { migrateRedisData } from '../../src/redis/migrate.js';
import { RedisStorage } from '../../src/redis/storage.js';
import { CONTROL_RECORD_ID } from '../../src/ops/control.js';
import { write01 } from '../helpers/redis-legacy.js';
import { randomPrefix } from '../helpers/redis.js';
import { cleanupClusterPrefix, clusterKeys, startOwnCluster, type OwnCluster } from '../helpers/redis-cluster.js';
import { claimRun, drainChanges, fabric, redisCorrupt, state, storageContract } from '../storage-contract.js';

let cluster: OwnCluster;
let client: Cluster;
beforeAll(async () => {
  cluster = await startOwnCluster();
  client = cluster.client();
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
});

storageContract('RedisStorage on a 3-master Redis Cluster', async () => {
  const prefix = `${randomPrefix('cluster')}{tag}%`;
  const storage = new RedisStorage({ client, prefix, listBatchSize: 7, changePageSize: 10 });
  return {
    storage,
    corruptKinds: ['garbage', 'wrong-type'],
    corrupt: (id, kind) => redisCorrupt(client, storage.keys.record(id), kind),
    cleanup: async () => {
      await cleanupClusterPrefix(client, prefix);
      expect(await clusterKeys(client, prefix)).toEqual([]);
    },
  };
});

describe('RedisStorage on Redis Cluster specifics', () => {
  it('puts each fabric\'s record, fence and lock in one slot, spreads fabrics over the masters, and works whatever braces the prefix and ids hold', async () => {
    const prefix = `{${randomPrefix('spread')}}`;
    const s = new RedisStorage({ client, prefix });
    try {
      const ids = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? `{same}` + i : i % 3 === 1 ? `}{${i}` : `plain-${i}`));
      for (const id of ids) {
        const w = await s.write(id, { definition: fabric(id), state: state() }, null);
        if (!w.ok) throw new Error(`create ${id} failed`);
        await claimRun(s, w.record);
      }
      const slotOf = async (key: string) => Number(await client.cluster('KEYSLOT', key));
      const slots = new Set<number>();
      for (const id of ids.slice(0, 12)) {
        const slot = await slotOf(s.keys.record(id));
        expect(await slotOf(s.keys.fence(id))).toBe(slot);
        expect(await slotOf(s.keys.lock(id))).toBe(slot);
        slots.add(slot);
      }
      expect(slots.size).toBeGreaterThan(1);
      const perNode = await Promise.all(client.nodes('master').map(async (n) => (await n.keys('*:r:*')).filter((k) => k.includes(':sw:r:')).length));
      expect(perNode.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
      const { records, corrupt } = await s.list();
      expect(corrupt).toEqual([]);
      expect(records.map((r) => r.definition.id).sort()).toEqual([...ids].sort());
    } finally {
      await cleanupClusterPrefix(client, prefix);
    }
  });

  it('feeds changes and keeps the ids set a superset of the records (SADD before the create, SREM after the delete)', async () => {
    const prefix = randomPrefix('feed');
    const s = new RedisStorage({ client, prefix });
    try {
      const start = await s.changes(null);
      await s.write('a', { definition: fabric('a'), state: state() }, null);
      await s.write('b', { definition: fabric('b'), state: state() }, null);
      expect(await s.delete('a')).toBe(true);
      const read = await drainChanges(s, start.cursor);
      expect(read).toMatchObject({ reset: false, changes: [{ id: 'a', kind: 'defined' }, { id: 'b', kind: 'defined' }, { id: 'a', kind: 'removed' }] });
      expect((await client.smembers(s.keys.ids)).sort()).toEqual(['b']);
      // a stale id left in the set (a writer died between SADD and the script) is skipped by list()
      await client.sadd(s.keys.ids, 'died-before-create');
      expect((await s.list()).records.map((r) => r.definition.id)).toEqual(['b']);
    } finally {
      await cleanupClusterPrefix(client, prefix);
    }
  });

  it('warns when any master may evict syncwheel keys', async () => {
    const s = new RedisStorage({ client, prefix: randomPrefix('warn') });
    expect(await s.warnings()).toEqual([]);
    const [node] = client.nodes('master');
    await node!.config('SET', 'maxmemory-policy', 'allkeys-lfu');
    try {
      const warnings = await s.warnings();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toBeInstanceOf(RedisEvictionWarning);
      expect((warnings[0] as RedisEvictionWarning).policy).toBe('allkeys-lfu');
    } finally {
      await node!.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });

  it('migrates 0.1 data spread over the masters (per-key commands, a SCAN per master)', async () => {
    const prefix = `${randomPrefix('mig')}{p}`;
    try {
      await write01(client, prefix);
      const s = new RedisStorage({ client, prefix });
      await expect(s.list()).rejects.toThrow(/npx syncwheel migrate/);
      const done = await migrateRedisData({ client, prefix });
      expect(done).toMatchObject({ records: 3, control: true, fences: 1, unreadable: ['bad'] });
      const fresh = new RedisStorage({ client, prefix });
      const { records, corrupt } = await fresh.list();
      expect(corrupt).toEqual([]);
      expect(records.map((r) => r.definition.id).sort()).toEqual([CONTROL_RECORD_ID, 'a', 'b:{x}'].sort());
      expect((await claimRun(fresh, (await fresh.get('b:{x}'))!)).state.fencingToken).toBeGreaterThan(1700000000000009);
      expect(await migrateRedisData({ client, prefix })).toMatchObject({ records: 0, fences: 0, deletedKeys: 0 });
    } finally {
      await cleanupClusterPrefix(client, prefix);
    }
  });
});

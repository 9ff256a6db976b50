import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionError, StorageError } from '../../src/errors.js';
import { RedisStorage } from '../../src/redis/storage.js';
import { SCHEMA_VERSION } from '../../src/redis/keys.js';
import { cleanupPrefix, countKeys, mockClient, randomPrefix, realClient } from '../helpers/redis.js';
import { fabric, state, storageContract, type StorageFixture } from '../storage-contract.js';

function fixture(client: Redis, kinds: ReadonlyArray<'garbage' | 'wrong-type'>): StorageFixture {
  const prefix = randomPrefix('contract');
  const storage = new RedisStorage({ client, prefix, listBatchSize: 7 });
  return {
    storage,
    corruptKinds: kinds,
    corrupt: async (id, kind) => {
      const key = storage.keys.record(id);
      if (kind === 'garbage') await client.hset(key, 'd', '{"schema":1,"definition":');
      else {
        await client.del(key);
        await client.set(key, 'not a hash');
      }
    },
    cleanup: async () => {
      await cleanupPrefix(client, prefix);
      expect(await countKeys(client, prefix)).toBe(0);
    },
  };
}

const mock = mockClient();
const real = realClient();
afterAll(async () => {
  mock.disconnect();
  await real.quit();
});

storageContract('RedisStorage on ioredis-mock', async () => fixture(mock, ['garbage']));
storageContract('RedisStorage on Redis 127.0.0.1:6379', async () => fixture(real, ['garbage', 'wrong-type']));

describe('RedisStorage specifics (real Redis)', () => {
  const prefixes: string[] = [];
  afterEach(async () => {
    for (const p of prefixes.splice(0)) await cleanupPrefix(real, p);
  });
  /** A RedisStorage on the real Redis under a fresh prefix, whose keys go after the test. */
  function storageOn(tag: string): { prefix: string; s: RedisStorage } {
    const prefix = randomPrefix(tag);
    prefixes.push(prefix);
    return { prefix, s: new RedisStorage({ client: real, prefix }) };
  }

  it('validates its options, saying what was expected and what arrived', () => {
    expect(() => new RedisStorage({ client: real, prefix: '' })).toThrow(InvalidOptionError);
    expect(() => new RedisStorage({ client: real, prefix: '' })).toThrow(/Expected prefix to be a non-empty string, got string ""/);
    expect(() => new RedisStorage({ client: {} as Redis, prefix: 'p' })).toThrow(/Expected client to be an ioredis client/);
    expect(() => new RedisStorage({ client: real, prefix: 'p', listBatchSize: 0 })).toThrow(/Expected listBatchSize to be a positive integer, got 0/);
  });

  it('keeps the fence counter when the record key is lost: tokens never go backwards, stale updates are refused', async () => {
    const { s } = storageOn('fence');
    const a = await s.write('f', { definition: fabric('f'), state: state() }, null);
    if (!a.ok) throw new Error('create failed');
    const b = await s.write('f', { definition: fabric('f'), state: state({ fencingToken: 12 }) }, a.record.version);
    if (!b.ok) throw new Error('update failed');
    // the first token of an id is seeded from Redis time (ms x 1000), so it survives a data loss
    const t12 = b.record.state.fencingToken;
    expect(t12).toBeGreaterThanOrEqual(12);
    expect(await real.hget(s.keys.fence('f'), 'token')).toBe(String(t12));
    // an operator (or eviction) drops the record key, the counter survives
    await real.del(s.keys.record('f'));
    const c = await s.write('f', { definition: fabric('f'), state: state({ fencingToken: 1 }) }, null);
    expect(c.ok && c.record.state.fencingToken).toBe(t12);
    expect(c.ok && c.record.version).toBeGreaterThan(b.record.version);
    // an update carrying a token below the counter is refused even at the right version
    if (!c.ok) return;
    const low = await s.write('f', { definition: fabric('f'), state: state({ fencingToken: t12 - 1 }) }, c.record.version);
    expect(low.ok).toBe(false);
    const ok = await s.write('f', { definition: fabric('f'), state: state({ fencingToken: t12 + 1 }) }, c.record.version);
    expect(ok.ok).toBe(true);
    expect(await real.hget(s.keys.fence('f'), 'token')).toBe(String(t12 + 1));
  });

  it('stores a schema version and refuses data written by a newer schema', async () => {
    const { prefix, s } = storageOn('schema');
    await s.write('a', { definition: fabric('a'), state: state() }, null);
    expect(await real.get(s.keys.schema)).toBe(String(SCHEMA_VERSION));
    const doc = JSON.parse((await real.hget(s.keys.record('a'), 'd'))!);
    expect(doc.schema).toBe(SCHEMA_VERSION);
    expect(doc.state.fencingToken).toBeUndefined();
    await real.set(s.keys.schema, String(SCHEMA_VERSION + 1));
    const fresh = new RedisStorage({ client: real, prefix });
    await expect(fresh.list()).rejects.toThrow(StorageError);
    await expect(fresh.get('a')).rejects.toThrow(/schema version 2/);
  });

  it('keeps every key under the prefix', async () => {
    const { prefix, s } = storageOn('layout');
    await s.write('a', { definition: fabric('a'), state: state() }, null);
    await s.write('b', { definition: fabric('b'), state: state() }, null);
    await s.delete('b');
    const keys = (await real.keys(`${prefix}*`)).sort();
    expect(keys).toEqual([`${prefix}:sw:fence:a`, `${prefix}:sw:fence:b`, `${prefix}:sw:ids`, `${prefix}:sw:rec:a`, `${prefix}:sw:schema`].sort());
  });

  it('rejects with a StorageError (not a crash) when Redis cannot be reached', async () => {
    const { Redis } = await import('ioredis');
    const dead = new Redis({ port: 1, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    dead.on('error', () => undefined);
    const s = new RedisStorage({ client: dead, prefix: randomPrefix('dead') });
    await expect(s.list()).rejects.toBeInstanceOf(StorageError);
    await expect(s.write('a', { definition: fabric('a'), state: state() }, null)).rejects.toBeInstanceOf(StorageError);
    dead.disconnect();
  });
});

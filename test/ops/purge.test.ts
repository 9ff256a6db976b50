import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { createScheduler } from '../../src/index.js';
import { PurgePrefixError, assertPurgeablePrefix, classifyKey, purgePrefix } from '../../src/ops/purge.js';
import { RedisStorage, RedlockSingleFlight } from '../../src/redis/index.js';
import { legacyKeys, redisKeys } from '../../src/redis/keys.js';
import { REDIS_URL, cleanupPrefix, countKeys, realClient } from '../helpers/redis.js';
import { until } from '../helpers/wait.js';

const client = realClient();
const created: string[] = [];
afterAll(async () => {
  for (const p of created) await cleanupPrefix(client, p);
  client.disconnect();
});

/** A fresh root; prefixes made from it share its leading characters. */
function root(): string {
  return `swtest:purge:${randomBytes(5).toString('hex')}`;
}

/** Writes one of each kind of key of `prefix` (current layout, and the 0.1 layout with `legacy`); returns how many per kind. */
async function seed(prefix: string, legacy = false): Promise<Record<string, number>> {
  created.push(prefix);
  const k = redisKeys(prefix);
  const ids = ['a', 'with:colon', '{brace}', '__syncwheel__:control'];
  const pipe = client.pipeline();
  pipe.set(k.schema, '2').sadd(k.ids, ...ids).xadd(k.log, '*', 'id', 'a').zadd(k.members, Date.now() - 60_000, 'gone');
  for (const id of ids) pipe.hset(k.record(id), 'v', '1').hset(k.fence(id), 'token', '1').set(k.lock(id), 'holder');
  for (const id of ids.slice(0, 3)) pipe.lpush(k.history(id), 'entry');
  const counts = { records: 4, fences: 4, history: 3, locks: 4, membership: 1, log: 1, other: 2 };
  if (legacy) {
    const l = legacyKeys(prefix);
    pipe.set(l.schema, '1').sadd(`${l.base}:ids`, 'old').hset(l.record('old'), 'v', '1').hset(l.record('\u0000syncwheel:control'), 'v', '1').hset(l.fence('old'), 'token', '1').set(l.lock('old'), 'x');
    const same = l.base === k.base; // schema and ids are shared names when the prefix needs no encoding
    counts.records += 2;
    counts.fences += 1;
    counts.locks += 1;
    counts.other += same ? 0 : 2;
  }
  await pipe.exec();
  return counts;
}

describe('purge: refused prefixes', () => {
  it.each(['', '   ', '*', '**', '?', '[*]', '\\*', '*?[]'])('refuses %j with a typed error, before touching Redis', async (prefix) => {
    expect(() => assertPurgeablePrefix(prefix)).toThrow(PurgePrefixError);
    const never = { isCluster: false, scan: () => Promise.reject(new Error('touched Redis')) } as unknown as Redis;
    const error = await purgePrefix(never, { prefix }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PurgePrefixError);
    expect((error as PurgePrefixError).prefix).toBe(prefix);
  });

  it('the CLI refuses them as usage errors (exit 2, one line)', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s), env: {}, isTTY: false };
    expect(await main(['purge', '--redis', REDIS_URL, '--prefix', '*'], io)).toBe(2);
    expect(await main(['purge', '--redis', REDIS_URL, '--prefix', ''], io)).toBe(2);
    expect(await main(['status', '--redis', REDIS_URL, '--prefix', 'x', '--yes'], io)).toBe(2);
    expect(err.join('\n')).toMatch(/glob characters/);
    expect(err.join('\n')).toMatch(/--yes goes with purge/);
    expect(out).toEqual([]);
  });
});

describe('purge: classification', () => {
  it('tells the prefix\'s keys from a longer prefix nested under it and from neighbours', () => {
    const p = 'app';
    const mine = redisKeys(p);
    const nested = redisKeys('app:sw:x');
    expect(classifyKey(p, mine.record('r:{00000000}:x'))).toBe('records');
    expect(classifyKey(p, mine.lock('id'))).toBe('locks');
    expect(classifyKey(p, mine.log)).toBe('log');
    expect(classifyKey(p, nested.record('id'))).toBeUndefined();
    expect(classifyKey(p, nested.schema)).toBeUndefined();
    expect(classifyKey(p, nested.lock('id'))).toBeUndefined();
    expect(classifyKey(p, redisKeys('app2').record('id'))).toBeUndefined();
    expect(classifyKey(p, 'app:sw:something-new')).toBe('other');
    expect(classifyKey(p, 'app:sw:r:{00000000}:wrong-tag')).toBe('other');
  });
});

describe('purge against Redis', () => {
  it('dry run by default: counts per kind, deletes nothing; --yes deletes only the prefix', async () => {
    const r = root();
    const p = `${r}:app`;
    const neighbours = [`${r}:app2`, `${r}:ap`, `${r}:app:sw:x`, `${r}:app:sw:rec`];
    const expected = await seed(p, true);
    for (const n of neighbours) await seed(n, true);
    const before = await Promise.all(neighbours.map((n) => countKeys(client, n)));

    const dry = await purgePrefix(client, { prefix: p });
    expect(dry).toMatchObject({ dryRun: true, masters: 1, counts: expected, remaining: 0 });
    expect(dry.total).toBe(Object.values(expected).reduce((a, b) => a + b, 0));
    expect(dry.nested.count).toBeGreaterThan(0); // the keys of app:sw:x and app:sw:rec were seen and left alone
    expect(await purgePrefix(client, { prefix: p })).toMatchObject({ total: dry.total }); // nothing was deleted

    const done = await purgePrefix(client, { prefix: p, dryRun: false, batchSize: 3 });
    expect(done).toMatchObject({ dryRun: false, counts: expected, total: dry.total, remaining: 0, errors: { count: 0 } });
    expect((await purgePrefix(client, { prefix: p })).total).toBe(0);
    expect(await Promise.all(neighbours.map((n) => countKeys(client, n)))).toEqual(before);
  });

  it.each(['*', '?', '[ab]', '{x}', 'a\\b', '%7Bx%7D'])('a prefix holding %j is matched literally', async (special) => {
    const r = root();
    const p = `${r}:${special}`;
    // neighbours its characters would match as a glob, or share a leading substring with it
    const neighbours = [`${r}:ab`, `${r}:a`, `${r}:b`, `${r}:x`, `${r}:${special}z`, `${r}:z${special}`];
    const expected = await seed(p);
    for (const n of neighbours) await seed(n);
    const before = await Promise.all(neighbours.map((n) => countKeys(client, n)));
    const done = await purgePrefix(client, { prefix: p, dryRun: false });
    expect(done.counts).toEqual(expected);
    expect(await countKeys(client, p)).toBe(0);
    expect(await Promise.all(neighbours.map((n) => countKeys(client, n)))).toEqual(before);
  });

  it('removes a real deployment (records, fences, locks, membership) once its replicas are stopped', async () => {
    const p = `${root()}:live`;
    created.push(p);
    const storage = new RedisStorage({ client, prefix: p });
    const singleFlight = new RedlockSingleFlight({ clients: [client], prefix: p, membershipTtl: 60_000 });
    const runs: string[] = [];
    const scheduler = createScheduler({ storage, singleFlight, executor: (f) => void runs.push(f.id) });
    for (const id of ['a', 'b', 'c']) await scheduler.upsertFabric({ id, syncInterval: 'PT1H' });
    await scheduler.start();
    await until(() => runs.length >= 3);
    await singleFlight.ready();
    const live = await purgePrefix(client, { prefix: p });
    expect(live.liveReplicas).toBe(1);
    expect(live.counts.records).toBeGreaterThanOrEqual(3);
    expect(live.counts.membership).toBe(1);
    await scheduler.stop();
    await singleFlight.close();
    await client.set(redisKeys(p).lock('a'), 'stale holder', 'PX', 60_000);
    const done = await purgePrefix(client, { prefix: p, dryRun: false });
    expect(done.counts.locks).toBe(1);
    expect(done.remaining).toBe(0);
    expect(await countKeys(client, p)).toBe(0);
  });

  it('scans every master of a cluster client (two databases stand in for two masters)', async () => {
    const p = `${root()}:cluster`;
    const nodes = [realClient({ db: 1 }), realClient({ db: 2 })];
    try {
      const k = redisKeys(p);
      await nodes[0]!.hset(k.record('a'), 'v', '1');
      await nodes[0]!.set(k.schema, '2');
      await nodes[1]!.hset(k.record('b'), 'v', '1');
      await nodes[1]!.hset(k.fence('b'), 'token', '1');
      await nodes[1]!.set(`${p}2:sw:schema`, '2'); // a neighbour on the second master
      const fake = { isCluster: true, nodes: (role: string) => (role === 'master' ? nodes : []), zcount: () => Promise.resolve(0) } as unknown as Cluster;
      expect((await purgePrefix(fake, { prefix: p })).counts).toMatchObject({ records: 2, fences: 1, other: 1 });
      const done = await purgePrefix(fake, { prefix: p, dryRun: false });
      expect(done).toMatchObject({ masters: 2, total: 4, remaining: 0 });
      expect(await nodes[1]!.exists(`${p}2:sw:schema`)).toBe(1);
    } finally {
      for (const n of nodes) {
        await cleanupPrefix(n, p);
        await cleanupPrefix(n, `${p}2`);
        n.disconnect();
      }
    }
  });

  it('CLI: the dry run prints the counts and the command that deletes; --yes deletes', async () => {
    const p = `${root()}:cli 'quoted'`;
    await seed(p);
    const out: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(`ERR ${s}`), env: {}, isTTY: false };
    expect(await main(['purge', '--redis', REDIS_URL, '--prefix', p], io)).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/Dry run: would delete 19 key\(s\)/);
    expect(text).toMatch(/records +4/);
    expect(text).toContain(`syncwheel purge --prefix '${p.replace(/'/g, `'\\''`)}' --redis ${REDIS_URL} --yes`);
    expect(await countKeys(client, p)).toBe(19);
    out.length = 0;
    expect(await main(['purge', '--redis', REDIS_URL, '--prefix', p, '--yes', '--json'], io)).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ dryRun: false, total: 19, remaining: 0 });
    expect(await countKeys(client, p)).toBe(0);
  });
});

import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.js';
import { LockLostError, LockUnavailableError, RedlockSingleFlight, ownerOf } from '../../src/redis/index.js';
import { redisKeys } from '../../src/redis/keys.js';
import { cleanupPrefix, mockClient, randomPrefix, realClient, startOwnRedis, type OwnRedis } from '../helpers/redis.js';
import { sleep, until } from '../helpers/wait.js';

const real = realClient();
const prefixes: string[] = [];
const closers: Array<() => Promise<unknown> | void> = [];
function prefix(tag: string): string {
  const p = randomPrefix(tag);
  prefixes.push(p);
  return p;
}
function sf(options: ConstructorParameters<typeof RedlockSingleFlight>[0]): RedlockSingleFlight {
  const s = new RedlockSingleFlight(options);
  closers.push(() => s.close());
  s.start(); // standalone: join the membership set as a running scheduler would
  return s;
}
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const p of prefixes.splice(0)) await cleanupPrefix(real, p);
});
afterAll(async () => {
  await real.quit();
});

describe('RedlockSingleFlight on one Redis', () => {
  it('validates its options', () => {
    expect(() => new RedlockSingleFlight({ clients: [], prefix: 'p' })).toThrow(/Expected clients to be a non-empty array of ioredis clients, got an array/);
    expect(() => new RedlockSingleFlight({ clients: [real], prefix: '' })).toThrow(InvalidOptionError);
    expect(() => new RedlockSingleFlight({ clients: [real], prefix: 'p', lockTtl: -1, partition: false })).toThrow(/Expected lockTtl to be a positive integer number of ms, got -1/);
    expect(() => new RedlockSingleFlight({ clients: [real], prefix: 'p', lockTtl: 100, refreshInterval: 100, partition: false })).toThrow(/refreshInterval/);
    expect(() => new RedlockSingleFlight({ clients: [real], prefix: 'p', membershipTtl: 100, heartbeatInterval: 200 })).toThrow(/heartbeatInterval/);
    expect(() => new RedlockSingleFlight({ clients: [real], prefix: 'p', driftFactor: 2, partition: false })).toThrow(/driftFactor/);
    expect(() => new RedlockSingleFlight({ clients: [real], prefix: 'p', clock: {} as never, partition: false })).toThrow(/Expected clock to be a Clock/);
    expect(() => new RedlockSingleFlight({ clients: [real], prefix: 'p', heartbeatInterval: 2_000 })).toThrow(/less than membershipTtl \(2000\)/);
  });

  it('grants one holder at a time and never waits', async () => {
    const p = prefix('sf');
    const a = sf({ clients: [real], prefix: p, partition: false });
    const b = sf({ clients: [real], prefix: p, partition: false });
    const lease = await a.acquire('f', { ttl: 5_000 });
    expect(lease).toBeDefined();
    const t0 = Date.now();
    expect(await b.acquire('f', { ttl: 5_000 })).toBeUndefined();
    // a wait would last the acquire timeout (~5 s); one round trip is far below 1 s even on a loaded CI machine
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(await real.pttl(redisKeys(p).lock('f'))).toBeGreaterThan(4_000);
    await lease!.release();
    await lease!.release();
    expect(await real.exists(redisKeys(p).lock('f'))).toBe(0);
    const again = await b.acquire('f', { ttl: 5_000 });
    expect(again).toBeDefined();
    await again!.release();
  });

  it('extends the lock while held, past its TTL', async () => {
    const p = prefix('sf');
    const a = sf({ clients: [real], prefix: p, partition: false, lockTtl: 600 });
    const b = sf({ clients: [real], prefix: p, partition: false, lockTtl: 600 });
    const lease = await a.acquire('f', { ttl: 30_000 });
    expect(lease).toBeDefined();
    for (let i = 0; i < 6; i++) {
      await sleep(250);
      expect(await b.acquire('f', { ttl: 600 })).toBeUndefined();
    }
    expect(lease!.signal.aborted).toBe(false);
    await lease!.release();
  });

  it('aborts the lease signal when the lock key is deleted (lock lost)', async () => {
    const p = prefix('sf');
    const a = sf({ clients: [real], prefix: p, partition: false, lockTtl: 900 });
    const lease = await a.acquire('f', { ttl: 900 });
    await real.del(redisKeys(p).lock('f'));
    const ms = await until(() => lease!.signal.aborted, 2_000);
    expect(ms).toBeLessThan(900);
    expect(lease!.signal.reason).toBeInstanceOf(LockLostError);
    expect((lease!.signal.reason as LockLostError).how).toBe('refresh');
    await lease!.release();
  });

  it('rejects with LockUnavailableError when Redis cannot be reached', async () => {
    const dead = new Redis({ port: 1, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    dead.on('error', () => undefined);
    const a = sf({ clients: [dead], prefix: prefix('dead') });
    expect(a.shouldRun('f')).toBe(true); // membership unknown: the lock decides
    await expect(a.acquire('f', { ttl: 1_000 })).rejects.toBeInstanceOf(LockUnavailableError);
    await a.close();
    dead.disconnect();
  });

  it('works on ioredis-mock', async () => {
    const m = mockClient();
    const a = new RedlockSingleFlight({ clients: [m], prefix: 'mock' });
    await a.ready();
    expect(a.members).toBeUndefined(); // not a member before a scheduler runs on it
    a.start();
    await a.ready();
    expect(a.members).toEqual([a.replicaId]);
    expect(a.shouldRun('anything')).toBe(true);
    const lease = await a.acquire('f', { ttl: 1_000 });
    expect(lease).toBeDefined();
    expect(await a.acquire('f', { ttl: 1_000 })).toBeUndefined();
    await lease!.release();
    await a.close();
    m.disconnect();
  });
});

describe('lease proof (one Redis)', () => {
  it('carries the lock key and the holder value: GET proof.key === proof.value while held, not after release', async () => {
    const p = prefix('proof');
    const a = sf({ clients: [real], prefix: p, partition: false });
    const lease = await a.acquire('f:{x}', { ttl: 5_000 });
    expect(lease).toBeDefined();
    expect(lease!.proof).toEqual({ key: redisKeys(p).lock('f:{x}'), value: lease!.holder });
    expect(lease!.holder).toMatch(/\S{16,}/);
    expect(await real.get(lease!.proof!.key)).toBe(lease!.proof!.value);
    expect(lease!.remaining()).toBeGreaterThan(4_000);
    expect(lease!.remaining()).toBeLessThanOrEqual(5_000);
    await lease!.release();
    expect(lease!.remaining()).toBe(0);
    expect(await real.get(lease!.proof!.key)).toBeNull();
    // the next holder writes another value: an old proof never matches it
    const next = await a.acquire('f:{x}', { ttl: 5_000 });
    expect(next!.holder).not.toBe(lease!.holder);
    expect(await real.get(lease!.proof!.key)).toBe(next!.holder);
    await next!.release();
  });

  it('stops matching once the lock expired (holder gone quiet) and another holder took it', async () => {
    const p = prefix('proof');
    const a = sf({ clients: [real], prefix: p, partition: false, lockTtl: 400, refreshInterval: 350 });
    const lease = await a.acquire('f', { ttl: 400 });
    const { key, value } = lease!.proof!;
    // simulate a holder that stopped extending: make the key expire now
    await real.pexpire(key, 1);
    await until(async () => (await real.exists(key)) === 0, 2_000);
    expect(await real.get(key)).toBeNull();
    await until(() => lease!.signal.aborted, 2_000);
    expect(lease!.remaining()).toBe(0);
    const b = sf({ clients: [real], prefix: p, partition: false });
    const other = await b.acquire('f', { ttl: 5_000 });
    expect(other).toBeDefined();
    expect(await real.get(key)).not.toBe(value);
    await other!.release();
    await lease!.release();
  });
});

describe('RedlockSingleFlight with Redis going away (own redis-server)', () => {
  let own: OwnRedis;
  let client: Redis;
  beforeAll(async () => {
    own = await startOwnRedis();
    client = own.client({ retryStrategy: () => 50 });
  });
  afterAll(async () => {
    client.disconnect();
    await own.stop();
  });

  it('aborts a held lease before its TTL runs out when Redis stops answering, and works again when it returns', async () => {
    // Real time on a loaded CI machine: the watchdog's timer can fire tens of ms late, so the
    // drift allowance (driftFactor) is set wide enough to absorb that, and the abort is timed by
    // its event (not by polling) from before the acquire, which is where the TTL starts.
    const a = sf({ clients: [client], prefix: 'own', partition: false, lockTtl: 2_000, driftFactor: 0.2 });
    const t0 = Date.now();
    const lease = await a.acquire('f', { ttl: 2_000 });
    expect(lease).toBeDefined();
    let abortedAt = 0;
    lease!.signal.addEventListener('abort', () => (abortedAt = Date.now()), { once: true });
    await own.stop();
    await until(() => lease!.signal.aborted, 5_000);
    expect(abortedAt - t0).toBeLessThan(2_000);
    expect(lease!.signal.reason).toBeInstanceOf(LockLostError);
    await expect(a.acquire('g', { ttl: 1_000 })).rejects.toBeInstanceOf(LockUnavailableError);
    await lease!.release().catch(() => undefined);
    await own.start();
    await until(() => client.status === 'ready', 5_000);
    const back = await a.acquire('g', { ttl: 1_000 });
    expect(back).toBeDefined();
    await back!.release();
  });
});

describe('RedlockSingleFlight over three independent masters (Redlock)', () => {
  const servers: OwnRedis[] = [];
  const clients: Redis[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) {
      const s = await startOwnRedis();
      servers.push(s);
      clients.push(s.client({ maxRetriesPerRequest: 0, enableOfflineQueue: false }));
    }
    await until(() => clients.every((c) => c.status === 'ready'), 5_000);
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    for (const s of servers) await s.stop();
  });

  it('takes the lock on a majority, tolerates one master down, refuses without quorum', async () => {
    const a = sf({ clients, prefix: 'rl', partition: false, lockTtl: 2_000 });
    const b = sf({ clients, prefix: 'rl', partition: false, lockTtl: 2_000 });
    const lease = await a.acquire('f', { ttl: 2_000 });
    expect(lease).toBeDefined();
    const held = await Promise.all(clients.map((c) => c.get(redisKeys('rl').lock('f'))));
    expect(held).toEqual([lease!.holder, lease!.holder, lease!.holder]);
    expect(lease!.proof).toBeUndefined(); // no single key proves a quorum
    expect(await b.acquire('f', { ttl: 2_000 })).toBeUndefined();
    await lease!.release();
    await servers[0]!.stop();
    const one = await b.acquire('f', { ttl: 2_000 });
    expect(one).toBeDefined();
    expect(await a.acquire('f', { ttl: 2_000 })).toBeUndefined();
    await one!.release();
    await servers[1]!.stop();
    await expect(a.acquire('f', { ttl: 2_000 })).rejects.toBeInstanceOf(LockUnavailableError);
    await servers[0]!.start();
    await servers[1]!.start();
    await until(() => clients.every((c) => c.status === 'ready'), 5_000);
    const back = await a.acquire('f', { ttl: 2_000 });
    expect(back).toBeDefined();
    await back!.release();
  });
});

describe('partitioning (rendezvous hashing over heartbeats)', () => {
  it('ownerOf picks exactly one member and moves only the departed member\'s keys', () => {
    const members = ['r1', 'r2', 'r3'];
    const ids = Array.from({ length: 3_000 }, (_, i) => `fabric-${i}`);
    const owners = ids.map((id) => ownerOf(id, members)!);
    const counts = members.map((m) => owners.filter((o) => o === m).length);
    for (const c of counts) expect(c).toBeGreaterThan(800); // ~1000 each
    const after = ids.map((id) => ownerOf(id, ['r1', 'r3'])!);
    ids.forEach((_, i) => {
      if (owners[i] !== 'r2') expect(after[i]).toBe(owners[i]);
    });
    expect(ownerOf('x', [])).toBeUndefined();
  });

  it('live replicas split fabrics; a closed replica\'s fabrics move to the survivors', async () => {
    const p = prefix('part');
    const reps = ['r1', 'r2', 'r3'].map((id) => sf({ clients: [real], prefix: p, replicaId: id, membershipTtl: 1_500, heartbeatInterval: 200 }));
    await until(() => reps.every((r) => r.members?.length === 3), 3_000);
    const ids = Array.from({ length: 300 }, (_, i) => `f${i}`);
    const owners = ids.map((id) => reps.filter((r) => r.shouldRun(id)).map((r) => r.replicaId));
    for (const o of owners) expect(o).toHaveLength(1);
    await reps[1]!.close();
    await until(() => reps[0]!.members?.length === 2 && reps[2]!.members?.length === 2, 3_000);
    for (const [i, id] of ids.entries()) {
      const now = [reps[0]!, reps[2]!].filter((r) => r.shouldRun(id)).map((r) => r.replicaId);
      expect(now).toHaveLength(1);
      if (owners[i]![0] !== 'r2') expect(now).toEqual(owners[i]);
    }
  });

  it('defaults: membershipTtl 2 s, a heartbeat every 500 ms (one script per replica, not per fabric)', async () => {
    const p = prefix('part');
    const counted = realClient();
    closers.push(() => counted.quit());
    let sent = 0;
    const send = counted.sendCommand.bind(counted);
    counted.sendCommand = ((cmd: Parameters<typeof send>[0]) => {
      sent++;
      return send(cmd);
    }) as typeof counted.sendCommand;
    const a = sf({ clients: [counted], prefix: p, replicaId: 'a' });
    await a.ready();
    const score = Number(await real.zscore(redisKeys(p).members, 'a'));
    const [sec, micro] = await real.time();
    const redisNow = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
    expect(score - redisNow).toBeGreaterThan(1_000);
    expect(score - redisNow).toBeLessThanOrEqual(2_000);
    await sleep(1_100);
    const later = Number(await real.zscore(redisKeys(p).members, 'a'));
    expect(later).toBeGreaterThan(score); // refreshed at least once in ~1 s
    // shouldRun is local: a thousand calls send nothing
    const before = sent;
    for (let i = 0; i < 1_000; i++) a.shouldRun(`f${i}`);
    expect(sent).toBe(before);
    expect(a.members).toEqual(['a']);
  });

  it('a replica whose heartbeats fail stops claiming its share once its view is membershipTtl old (tries everything)', async () => {
    const p = prefix('part');
    const own = await startOwnRedis();
    const client = own.client({ enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    const errors: Error[] = [];
    try {
      const a = sf({ clients: [client], prefix: p, replicaId: 'a', membershipTtl: 600, heartbeatInterval: 100, onError: (e) => errors.push(e) });
      await until(() => a.members?.length === 1, 3_000);
      await client.zadd(redisKeys(p).members, Date.now() + 60_000, 'b'); // another live replica
      await until(() => a.members?.length === 2, 2_000);
      const ids = Array.from({ length: 50 }, (_, i) => `f${i}`);
      expect(ids.filter((id) => a.shouldRun(id)).length).toBeLessThan(50); // b owns some
      await own.kill();
      const stale = await until(() => a.members === undefined, 3_000);
      expect(stale).toBeLessThan(1_500); // ~membershipTtl after the last answered heartbeat
      expect(ids.every((id) => a.shouldRun(id))).toBe(true); // unknown membership: the lock decides
      expect(errors.length).toBeGreaterThan(0);
    } finally {
      client.disconnect();
      await own.stop();
    }
  });

  it('a replica that stops heartbeating (killed) drops out after membershipTtl', async () => {
    const p = prefix('part');
    const a = sf({ clients: [real], prefix: p, replicaId: 'a', membershipTtl: 800, heartbeatInterval: 200 });
    // a "dead" member: one heartbeat written by hand, never refreshed
    await real.zadd(redisKeys(p).members, Date.now() + 800, 'dead');
    await until(() => a.members?.length === 2, 2_000);
    const waited = await until(() => a.members?.length === 1, 3_000);
    expect(waited).toBeLessThan(1_500);
    expect(a.shouldRun('anything')).toBe(true);
  });
});

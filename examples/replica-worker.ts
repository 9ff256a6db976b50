/**
 * One replica of the multi-replica demo (started by examples/replicas.ts). A real service would
 * look the same: one ioredis client, RedisStorage + RedlockSingleFlight on a shared prefix, and
 * an executor that passes ctx.fencingToken to its own datastore so a stale holder cannot write.
 */
import { Redis } from 'ioredis';
import { createScheduler } from '../src/index.js';
import { RedisStorage, RedlockSingleFlight } from '../src/redis/index.js';

const replica = process.env['REPLICA'] ?? 'r?';
const prefix = process.env['PREFIX'] ?? 'demo';
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const out = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ replica, ...o })}\n`);

const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
client.on('error', (e) => out({ type: 'redis-error', message: e.message }));

/**
 * The host's datastore (here a Redis hash per fabric, but it could be Postgres): a write is
 * accepted only when its fencing token is not older than the last one accepted.
 */
const WRITE_IF_FRESH = `
local cur = tonumber(redis.call('HGET', KEYS[1], 'token') or '0')
if tonumber(ARGV[1]) < cur then return cur end
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'value', ARGV[2])
return -1`;
async function writeIfFresh(fabricId: string, token: number, value: string): Promise<{ ok: boolean; stored: number }> {
  const r = Number(await client.eval(WRITE_IF_FRESH, 1, `${prefix}:hostdata:${fabricId}`, token, value));
  return r === -1 ? { ok: true, stored: token } : { ok: false, stored: r };
}

const singleFlight = new RedlockSingleFlight({ clients: [client], prefix, replicaId: replica, membershipTtl: 3_000, heartbeatInterval: 500 });
let runs = 0;
let stale: { fabricId: string; token: number } | undefined;
const scheduler = createScheduler({
  storage: new RedisStorage({ client, prefix }),
  singleFlight,
  lockTtl: 5_000,
  executor: async (fabric, ctx) => {
    const startedAt = Date.now();
    out({ type: 'start', fabricId: fabric.id, scheduledAt: ctx.scheduledAt, token: ctx.fencingToken, at: startedAt });
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 250)); // the "sync"
    ctx.signal.throwIfAborted(); // lock lost, timeout or shutdown: do not write
    const res = await writeIfFresh(fabric.id, ctx.fencingToken, `synced by ${replica} at ${new Date().toISOString()}`);
    out({ type: 'end', fabricId: fabric.id, scheduledAt: ctx.scheduledAt, token: ctx.fencingToken, at: Date.now(), written: res.ok });
    // Once, keep this run's token to replay it later, like a holder that was paused (GC, VM
    // freeze) past its lock and wakes up to write: the datastore must refuse it.
    if (replica === 'r3' && ++runs === 3) stale = { fabricId: fabric.id, token: ctx.fencingToken };
  },
});
scheduler.on('error', (e) => out({ type: 'error', operation: e.operation, message: e.error.message }));

// The stale write, a few seconds later (newer runs of that fabric have happened by then).
setTimeout(() => {
  if (!stale) return;
  const { fabricId, token } = stale;
  void writeIfFresh(fabricId, token, 'stale!').then((res) => out({ type: 'stale-write', fabricId, token, refused: !res.ok, stored: res.stored }));
}, 8_000).unref();

process.on('SIGTERM', () => {
  void (async () => {
    await scheduler.stop();
    await singleFlight.close();
    await client.quit();
    out({ type: 'stopped' });
    process.exit(0);
  })();
});

for (let i = 0; i < 12; i++) await scheduler.upsertFabric({ id: `fab-${String(i).padStart(2, '0')}`, syncInterval: 1_000 });
await singleFlight.ready();
await scheduler.start();
out({ type: 'ready' });
setInterval(() => undefined, 1 << 30);

/**
 * SIGTERM handling and the host-side fencing check, in one small service.
 *
 *   npx tsx examples/sigterm.ts              # runs, then sends itself SIGTERM after 3 s
 *   SYNCWHEEL_REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/sigterm.ts   # same, on Redis
 *
 * What it shows:
 * 1. On SIGTERM (Kubernetes, systemd, docker stop) the service stops scheduling, lets running
 *    syncs finish for up to `drainTimeout`, aborts the rest through ctx.signal, releases its
 *    locks and leaves the membership set, then exits 0. A second SIGTERM (or SIGINT) does not
 *    start a second shutdown.
 * 2. The executor passes `ctx.fencingToken` to the system it writes to, and that system refuses
 *    a token lower than the highest it has accepted. A replica that was paused past its lock
 *    lease (GC, SIGSTOP, VM freeze) and wakes up mid-write is then refused instead of
 *    overwriting newer data. Redlock alone cannot guarantee that; fencing does.
 *
 * Expected output (timings vary):
 *   sync f1 token 1 -> accepted
 *   sync f2 token 1 -> accepted
 *   ...
 *   a stale write with token 0 for f1 -> refused (highest accepted 3)
 *   SIGTERM: stopping (waiting up to 5000 ms for 2 running syncs)
 *   stopped cleanly
 */
import { Redis } from 'ioredis';
import { createScheduler, type Scheduler, type SyncContext } from '../src/index.js';
import { RedisStorage, RedlockSingleFlight, redisKeys } from '../src/redis/index.js';

// ---------------------------------------------------------------- the downstream system
/**
 * The host-side check. In a real system this is a column in the row you update
 * (`UPDATE fabric SET ..., fence = $token WHERE id = $id AND fence <= $token`), a conditional
 * write, or a Lua script like this one. It must be atomic with the write it guards.
 */
const FENCED_WRITE = `
local highest = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < highest then return {0, string.format('%d', highest)} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
return {1, ARGV[1]}
`;

interface Downstream {
  write(fabricId: string, token: number, data: string): Promise<{ accepted: boolean; highest: number }>;
}

function redisDownstream(client: Redis, prefix: string): Downstream {
  return {
    async write(fabricId, token, data) {
      const [ok, highest] = (await client.eval(FENCED_WRITE, 2, `${prefix}:fence:${fabricId}`, `${prefix}:data:${fabricId}`, String(token), data)) as [number, string];
      return { accepted: ok === 1, highest: Number(highest) };
    },
  };
}

function memoryDownstream(): Downstream {
  const highest = new Map<string, number>();
  return {
    async write(fabricId, token) {
      const h = highest.get(fabricId) ?? 0;
      if (token < h) return { accepted: false, highest: h };
      highest.set(fabricId, token);
      return { accepted: true, highest: token };
    },
  };
}

// ---------------------------------------------------------------- the service
const url = process.env['SYNCWHEEL_REDIS_URL'];
const prefix = `example-sigterm-${process.pid}`;
const client = url ? new Redis(url, { maxRetriesPerRequest: 1 }) : undefined;
client?.on('error', (e) => console.error('redis:', e.message));
const singleFlight = client ? new RedlockSingleFlight({ clients: [client], prefix }) : undefined;
const downstream = client ? redisDownstream(client, prefix) : memoryDownstream();

async function syncFabric(fabricId: string, ctx: SyncContext): Promise<void> {
  // ... fetch the fabric's state, honouring ctx.signal ...
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, 400);
    ctx.signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(ctx.signal.reason);
    }, { once: true });
  });
  // ... then write with the fencing token: the downstream refuses a stale holder.
  const { accepted, highest } = await downstream.write(fabricId, ctx.fencingToken, `synced at ${new Date().toISOString()}`);
  console.log(`sync ${fabricId} token ${ctx.fencingToken} -> ${accepted ? 'accepted' : `refused (highest accepted ${highest})`}`);
  if (!accepted) throw new Error(`stale fencing token ${ctx.fencingToken} refused (highest ${highest})`);
}

const scheduler: Scheduler = createScheduler({
  ...(client ? { storage: new RedisStorage({ client, prefix }) } : {}),
  ...(singleFlight ? { singleFlight } : {}),
  shutdown: { inFlight: 'wait', drainTimeout: 5_000 },
  executor: (fabric, ctx) => syncFabric(fabric.id, ctx),
});
scheduler.on('error', (e) => console.error(`error (${e.operation}):`, e.error.message));

let shuttingDown: Promise<void> | undefined;
function shutdown(signal: string): Promise<void> {
  // Idempotent: a second signal while stopping waits for the same shutdown.
  shuttingDown ??= (async () => {
    console.log(`${signal}: stopping (waiting up to 5000 ms for ${scheduler.inFlightCount} running syncs)`);
    const hardExit = setTimeout(() => {
      console.error('shutdown took too long; exiting anyway');
      process.exit(1);
    }, 10_000);
    hardExit.unref();
    try {
      await scheduler.stop(); // 'wait' mode: drain, then abort what is left through ctx.signal
      await singleFlight?.close(); // releases locks still held, leaves the membership set
      if (client) {
        // Demo cleanup only (a real service keeps its state across restarts): drop this example's keys.
        const k = redisKeys(prefix);
        await client.del(...['f1', 'f2'].flatMap((id) => [`${prefix}:fence:${id}`, `${prefix}:data:${id}`, k.record(id), k.fence(id)]), k.ids, k.schema, k.members);
        await client.quit();
      }
      console.log('stopped cleanly');
      process.exitCode = 0;
    } catch (error) {
      console.error('shutdown failed:', error);
      process.exitCode = 1;
    }
  })();
  return shuttingDown;
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

await scheduler.upsertFabric({ id: 'f1', syncInterval: 1_000 });
await scheduler.upsertFabric({ id: 'f2', syncInterval: 1_000 });
await singleFlight?.ready();
await scheduler.start();

setTimeout(async () => {
  // What a replica paused past its lease would try: write with an old token. Refused.
  const { accepted, highest } = await downstream.write('f1', 0, 'stale');
  console.log(`a stale write with token 0 for f1 -> ${accepted ? 'ACCEPTED (bug!)' : `refused (highest accepted ${highest})`}`);
}, 2_500);
// For the demo only: a real service waits for the orchestrator's signal.
setTimeout(() => process.kill(process.pid, 'SIGTERM'), 3_000);

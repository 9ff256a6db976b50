/**
 * One service replica for the multi-process tests (spawned with `node --import tsx`). Config
 * comes in the SWREPLICA environment variable (JSON); every run is written to stdout as JSON
 * lines: {type:'start'|'end', replica, fabricId, scheduledAt, token, trigger, at}. SIGTERM
 * stops gracefully; SIGKILL is what the tests use to simulate a crash.
 */
import { Redis } from 'ioredis';
import { createScheduler, type MissedRunPolicy } from '../../src/index.js';
import { RedisStorage, RedlockSingleFlight } from '../../src/redis/index.js';

interface Config {
  redisUrl: string;
  prefix: string;
  replica: string;
  fabrics: number;
  interval: number;
  upsert: boolean;
  missedRunPolicy: MissedRunPolicy;
  lockTtl: number;
  membershipTtl: number;
  heartbeatInterval: number;
  minRunMs: number;
  maxRunMs: number;
}

const cfg = JSON.parse(process.env['SWREPLICA'] ?? '{}') as Config;
const out = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ replica: cfg.replica, ...o })}\n`);

const client = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1 });
client.on('error', (e) => out({ type: 'redis-error', message: e.message }));
const singleFlight = new RedlockSingleFlight({
  clients: [client],
  prefix: cfg.prefix,
  replicaId: cfg.replica,
  membershipTtl: cfg.membershipTtl,
  heartbeatInterval: cfg.heartbeatInterval,
  onError: (e) => out({ type: 'heartbeat-error', message: e.message }),
});
const scheduler = createScheduler({
  storage: new RedisStorage({ client, prefix: cfg.prefix }),
  singleFlight,
  lockTtl: cfg.lockTtl,
  missedRunPolicy: cfg.missedRunPolicy,
  retry: false,
  executor: async (fabric, ctx) => {
    const base = { fabricId: fabric.id, scheduledAt: ctx.scheduledAt, token: ctx.fencingToken, trigger: ctx.trigger };
    out({ type: 'start', ...base, at: Date.now() });
    const ms = cfg.minRunMs + Math.floor(Math.random() * (cfg.maxRunMs - cfg.minRunMs));
    await new Promise((r) => setTimeout(r, ms));
    out({ type: 'end', ...base, at: Date.now(), aborted: ctx.signal.aborted });
  },
});
scheduler.on('sync:missed', (e) => out({ type: 'missed', ...e }));
scheduler.on('error', (e) => out({ type: 'error', operation: e.operation, fabricId: e.fabricId, message: e.error.message }));
scheduler.on('sync:failed', (e) => out({ type: 'failed', fabricId: e.fabricId, reason: e.reason, message: e.error.message }));

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await scheduler.stop({ inFlight: 'wait', drainTimeout: 5_000 });
    await singleFlight.close();
    await client.quit();
    out({ type: 'stopped', at: Date.now() });
    process.exit(0);
  })();
});

if (cfg.upsert) {
  for (let i = 0; i < cfg.fabrics; i++) await scheduler.upsertFabric({ id: `f${String(i).padStart(2, '0')}`, syncInterval: cfg.interval });
}
await singleFlight.ready();
await scheduler.start();
out({ type: 'ready', at: Date.now() });
// keep the process alive (scheduler timers are unref'ed)
setInterval(() => undefined, 1 << 30);

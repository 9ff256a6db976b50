/**
 * One service replica for the fault suite and the soak (spawned with `node --import tsx`).
 * Config comes in the SWFAULT environment variable (JSON). Every run is written to stdout as a
 * JSON line; the executor ends with a *fenced commit* to a downstream key, the host-side check
 * that makes a stale lock holder harmless:
 *
 *   start  {fabricId, scheduledAt, token, trigger, at}
 *   end    {fabricId, scheduledAt, token, at, aborted, committed, commitError, highest}
 *
 * The executor deliberately ignores `ctx.signal` (the worst case for a host): fencing alone must
 * refuse the stale write. SIGTERM stops gracefully ('stopped' line); SIGKILL/SIGSTOP are faults.
 */
import { Redis } from 'ioredis';
import { createScheduler, type MissedRunPolicy } from '../../src/index.js';
import { RedisStorage, RedlockSingleFlight } from '../../src/redis/index.js';

export interface FaultReplicaConfig {
  redisUrl: string;
  prefix: string;
  replica: string;
  /** Fabric ids `f0000..` this replica's host defines. */
  fabrics: number;
  interval: number;
  upsert: boolean;
  missedRunPolicy: MissedRunPolicy;
  lockTtl: number;
  membershipTtl: number;
  heartbeatInterval: number;
  partition: boolean;
  minRunMs: number;
  maxRunMs: number;
}

/**
 * The host-side fencing check: the downstream system keeps the highest token it accepted per
 * fabric and refuses any write carrying a lower one (atomically, in one Lua script).
 * KEYS[1] downstream key   ARGV[1] fencing token   -> {1, token} accepted | {0, highest} refused
 */
export const FENCED_COMMIT = `
local highest = tonumber(redis.call('GET', KEYS[1]) or '0')
local token = tonumber(ARGV[1])
if token < highest then return {0, string.format('%d', highest)} end
redis.call('SET', KEYS[1], ARGV[1])
return {1, ARGV[1]}
`;

export function downstreamKey(prefix: string, fabricId: string): string {
  return `${prefix}:downstream:${fabricId}`;
}

export function fabricIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `f${String(i).padStart(4, '0')}`);
}

if (process.env['SWFAULT']) {
  const cfg = JSON.parse(process.env['SWFAULT']) as FaultReplicaConfig;
  const out = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ replica: cfg.replica, ...o })}\n`);
  const client = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  const singleFlight = new RedlockSingleFlight({
    clients: [client],
    prefix: cfg.prefix,
    replicaId: cfg.replica,
    partition: cfg.partition,
    membershipTtl: cfg.membershipTtl,
    heartbeatInterval: cfg.heartbeatInterval,
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
      const ms = cfg.minRunMs + Math.floor(Math.random() * Math.max(0, cfg.maxRunMs - cfg.minRunMs));
      await new Promise((r) => setTimeout(r, ms)); // ignores ctx.signal on purpose
      let committed = false;
      let commitError = false;
      let highest: string | undefined;
      try {
        const reply = (await client.eval(FENCED_COMMIT, 1, downstreamKey(cfg.prefix, fabric.id), String(ctx.fencingToken))) as [number, string];
        committed = Number(reply[0]) === 1;
        highest = String(reply[1]);
      } catch (error) {
        commitError = true; // the downstream (here: the same Redis) was unreachable
        out({ type: 'commit-error', ...base, message: (error as Error).message });
      }
      out({ type: 'end', ...base, at: Date.now(), aborted: ctx.signal.aborted, committed, commitError, highest });
      if (commitError) throw new Error('downstream unreachable');
      if (!committed) throw new Error(`downstream refused fencing token ${ctx.fencingToken} (highest ${highest})`);
    },
  });
  scheduler.on('sync:missed', (e) => out({ type: 'missed', ...e, at: Date.now() }));
  scheduler.on('sync:failed', (e) => out({ type: 'failed', fabricId: e.fabricId, scheduledAt: e.scheduledAt, token: e.fencingToken, reason: e.reason, message: e.error.message, at: Date.now() }));
  scheduler.on('error', (e) => out({ type: 'error', operation: e.operation, fabricId: e.fabricId, message: e.error.message, at: Date.now() }));
  process.on('unhandledRejection', (reason) => out({ type: 'unhandled', message: String(reason) }));

  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await scheduler.stop({ inFlight: 'wait', drainTimeout: 5_000 });
      await singleFlight.close();
      client.disconnect();
      out({ type: 'stopped', at: Date.now() });
      process.exit(0);
    })();
  });

  if (cfg.upsert) {
    const ids = fabricIds(cfg.fabrics);
    for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map((id) => scheduler.upsertFabric({ id, syncInterval: cfg.interval })));
  }
  await singleFlight.ready();
  await scheduler.start();
  out({ type: 'ready', at: Date.now() });
  setInterval(() => undefined, 1 << 30); // scheduler timers are unref'ed
}

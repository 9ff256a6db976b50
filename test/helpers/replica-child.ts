/**
 * One service replica in a child process, for the multi-process tests, the fault suite and the
 * soak. Spawn it with `spawnReplica` (replicas.ts); it runs only when its config is in the
 * SWREPLICA environment variable (JSON, a full {@link ReplicaConfig}), so importing it for its
 * exports does nothing. Everything it sees is a JSON line on stdout, tagged with `replica`:
 *
 *   ready    {at}
 *   start    {fabricId, scheduledAt, token, trigger, at}
 *   end      {fabricId, scheduledAt, token, trigger, at, aborted}  + {committed, commitError, highest, committedAt (downstream µs)} with fencedCommit
 *   missed / skipped / failed / error / commit-error / redis-error / heartbeat-error / unhandled   (details)
 *   stopped  {at}   after SIGTERM: a graceful stop (in-flight runs drained); SIGKILL/SIGSTOP are faults
 *   fabric-added / fabric-updated / fabric-removed  {fabricId, remote, at}   (the scheduler's fabric:* events)
 *   stale    {fabricId, lastSyncAt, staleSince, at}   (fabric:stale)
 *
 * With `fencedCommit` the executor ends with a fenced commit to a downstream key (the host-side
 * check that makes a stale lock holder harmless) and deliberately ignores `ctx.signal` (the
 * worst case for a host): fencing alone must refuse the stale write.
 *
 * With `clusterNodes` the replica talks to a Redis Cluster instead of `redisUrl`: one ioredis
 * `Cluster` for its storage, its lock (`clients: [cluster]`) and the fenced commit.
 */
import { Cluster, Redis } from 'ioredis';
import { createScheduler, type MissedRunPolicy } from '../../src/index.js';
import { RedisStorage, RedlockSingleFlight } from '../../src/redis/index.js';

export interface ReplicaConfig {
  /** The single Redis this replica uses (ignored with `clusterNodes`). */
  redisUrl: string;
  /**
   * Startup nodes of a Redis Cluster: when set, the replica builds an ioredis `Cluster` from
   * them and hands it to `RedisStorage` and `RedlockSingleFlight` instead of a client on `redisUrl`.
   */
  clusterNodes?: Array<{ host: string; port: number }>;
  prefix: string;
  /** This replica's name (its replicaId, and the `replica` of every line). */
  replica: string;
  /** How many fabrics (`fabricIds(fabrics)`) this replica's host defines. */
  fabrics: number;
  interval: number;
  /** Whether the host upserts its fabrics before starting (false: they are already stored). */
  upsert: boolean;
  missedRunPolicy: MissedRunPolicy;
  lockTtl: number;
  membershipTtl: number;
  heartbeatInterval: number;
  partition: boolean;
  /** A run takes a random time in [minRunMs, maxRunMs). */
  minRunMs: number;
  maxRunMs: number;
  /** End every run with a fenced commit to `downstreamKey(prefix, fabricId)`; a refused or failed commit fails the run. */
  fencedCommit: boolean;
  /**
   * Options left to the library's defaults: the config's value for each listed one is not passed
   * (`lockTtl` to the scheduler, `membershipTtl` and `heartbeatInterval` to RedlockSingleFlight).
   */
  libraryDefaults?: Array<'lockTtl' | 'membershipTtl' | 'heartbeatInterval'>;
  /**
   * With `upsert`: define the fabrics after `start()`, evenly over this many ms, so their grids
   * (anchored at each one's first run) are spread over the interval instead of aligned. `ready`
   * is printed once all are defined.
   */
  upsertSpreadMs?: number;
  /** The scheduler's failure breaker (option `breaker`); absent: off. */
  breaker?: { after: number; maxProbeInterval: number };
  /** Every run fails (after its sleep): the executor throws. */
  failing?: boolean;
  /**
   * A run fails (after its sleep) while the key `targetDownKey(prefix, fabricId)` exists: the
   * test takes a fabric's target down and up again for every replica at once. Absent: never read.
   */
  failWhileTargetDown?: boolean;
  /** The scheduler's `phase` option; absent: the library's default ('immediate'). */
  phase?: 'immediate' | 'spread';
  /** Every fabric's `maxStaleness` (in the definitions the host upserts); absent: the default rule. */
  maxStaleness?: number;
}

/**
 * The host-side fencing check: the downstream system keeps the highest token it accepted per
 * fabric and refuses any write carrying a lower one (atomically, in one Lua script).
 * KEYS[1] downstream key   ARGV[1] fencing token   -> {1, token, at} accepted | {0, highest, at} refused
 * `at` is the downstream's own time of the decision (Redis TIME, µs): the order in which commits
 * really landed, which a replica frozen between sending a commit and reading its reply cannot skew.
 */
export const FENCED_COMMIT = `
local t = redis.call('TIME')
local at = t[1] .. string.format('%06d', tonumber(t[2]))
local highest = tonumber(redis.call('GET', KEYS[1]) or '0')
local token = tonumber(ARGV[1])
if token < highest then return {0, string.format('%d', highest), at} end
redis.call('SET', KEYS[1], ARGV[1])
return {1, ARGV[1], at}
`;

/**
 * Where the fenced commit writes; not under the library's keys, so `cleanupPrefix` leaves it.
 * One key per commit (a single-key script), so it works on Redis Cluster whatever the prefix.
 */
export function downstreamKey(prefix: string, fabricId: string): string {
  return `${prefix}:downstream:${fabricId}`;
}

/** The key whose existence takes one fabric's target down (with `failWhileTargetDown`); not under the library's keys: delete it yourself. */
export function targetDownKey(prefix: string, fabricId: string): string {
  return `${prefix}:target-down:${fabricId}`;
}

/** The ids of a replica's `n` fabrics: f0000, f0001, … */
export function fabricIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `f${String(i).padStart(4, '0')}`);
}

if (process.env['SWREPLICA']) {
  const cfg = JSON.parse(process.env['SWREPLICA']) as ReplicaConfig;
  const out = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ replica: cfg.replica, ...o })}\n`);
  const uses = (option: NonNullable<ReplicaConfig['libraryDefaults']>[number]) => !cfg.libraryDefaults?.includes(option);
  const client = cfg.clusterNodes
    ? new Cluster(cfg.clusterNodes, { redisOptions: { maxRetriesPerRequest: 1 }, clusterRetryStrategy: () => 100, slotsRefreshTimeout: 2_000 })
    : new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', (e) => out({ type: 'redis-error', message: e.message, at: Date.now() }));
  const singleFlight = new RedlockSingleFlight({
    clients: [client],
    prefix: cfg.prefix,
    replicaId: cfg.replica,
    partition: cfg.partition,
    ...(uses('membershipTtl') ? { membershipTtl: cfg.membershipTtl } : {}),
    ...(uses('heartbeatInterval') ? { heartbeatInterval: cfg.heartbeatInterval } : {}),
    onError: (e) => out({ type: 'heartbeat-error', message: e.message, at: Date.now() }),
  });

  /** The fenced commit: what the end line reports about it (a refusal or an unreachable downstream fails the run). */
  const commit = async (fabricId: string, token: number, base: Record<string, unknown>) => {
    try {
      const reply = (await client.eval(FENCED_COMMIT, 1, downstreamKey(cfg.prefix, fabricId), String(token))) as [number, string, string];
      return { committed: Number(reply[0]) === 1, commitError: false, highest: String(reply[1]), committedAt: Number(reply[2]) };
    } catch (error) {
      out({ type: 'commit-error', ...base, message: (error as Error).message }); // the downstream (here: the same Redis) was unreachable
      return { committed: false, commitError: true, highest: undefined, committedAt: undefined };
    }
  };

  const scheduler = createScheduler({
    storage: new RedisStorage({ client, prefix: cfg.prefix }),
    singleFlight,
    ...(uses('lockTtl') ? { lockTtl: cfg.lockTtl } : {}),
    missedRunPolicy: cfg.missedRunPolicy,
    retry: false,
    ...(cfg.breaker ? { breaker: cfg.breaker } : {}),
    ...(cfg.phase ? { phase: cfg.phase } : {}),
    executor: async (fabric, ctx) => {
      const base = { fabricId: fabric.id, scheduledAt: ctx.scheduledAt, token: ctx.fencingToken, trigger: ctx.trigger };
      out({ type: 'start', ...base, at: Date.now() });
      const ms = cfg.minRunMs + Math.floor(Math.random() * Math.max(0, cfg.maxRunMs - cfg.minRunMs));
      await new Promise((r) => setTimeout(r, ms)); // ignores ctx.signal on purpose
      if (cfg.failWhileTargetDown && (await client.exists(targetDownKey(cfg.prefix, fabric.id))) === 1) {
        out({ type: 'end', ...base, at: Date.now(), aborted: ctx.signal.aborted, targetDown: true });
        throw new Error('target down');
      }
      if (!cfg.fencedCommit) {
        out({ type: 'end', ...base, at: Date.now(), aborted: ctx.signal.aborted });
        if (cfg.failing) throw new Error('target down');
        return;
      }
      const { committed, commitError, highest, committedAt } = await commit(fabric.id, ctx.fencingToken, base);
      out({ type: 'end', ...base, at: Date.now(), aborted: ctx.signal.aborted, committed, commitError, highest, committedAt });
      if (commitError) throw new Error('downstream unreachable');
      if (!committed) throw new Error(`downstream refused fencing token ${ctx.fencingToken} (highest ${highest})`);
      if (cfg.failing) throw new Error('target down');
    },
  });
  scheduler.on('sync:missed', (e) => out({ type: 'missed', ...e, at: Date.now() }));
  scheduler.on('sync:skipped', (e) => out({ type: 'skipped', ...e, at: Date.now() }));
  scheduler.on('sync:failed', (e) => out({ type: 'failed', fabricId: e.fabricId, scheduledAt: e.scheduledAt, token: e.fencingToken, reason: e.reason, message: e.error.message, at: Date.now() }));
  scheduler.on('breaker:opened', (e) => out({ type: 'breaker-opened', ...e }));
  scheduler.on('fabric:added', (e) => out({ type: 'fabric-added', fabricId: e.fabricId, remote: e.remote === true, at: Date.now() }));
  scheduler.on('fabric:updated', (e) => out({ type: 'fabric-updated', fabricId: e.fabricId, remote: e.remote === true, at: Date.now() }));
  scheduler.on('fabric:removed', (e) => out({ type: 'fabric-removed', fabricId: e.fabricId, remote: e.remote === true, at: Date.now() }));
  scheduler.on('fabric:stale', (e) => out({ type: 'stale', ...e }));
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

  const definitionOf = (id: string) => ({ id, syncInterval: cfg.interval, ...(cfg.maxStaleness !== undefined ? { maxStaleness: cfg.maxStaleness } : {}) });
  const spread = cfg.upsert && cfg.upsertSpreadMs !== undefined && cfg.upsertSpreadMs > 0 ? cfg.upsertSpreadMs : 0;
  if (spread) {
    await singleFlight.ready();
    await scheduler.start();
    const ids = fabricIds(cfg.fabrics);
    const t0 = Date.now();
    for (const [i, id] of ids.entries()) {
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + (i * spread) / ids.length - Date.now())));
      await scheduler.upsertFabric(definitionOf(id));
    }
  } else if (cfg.upsert) {
    const ids = fabricIds(cfg.fabrics);
    for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map((id) => scheduler.upsertFabric(definitionOf(id))));
  }
  if (!spread) {
    await singleFlight.ready();
    await scheduler.start();
  }
  out({ type: 'ready', at: Date.now() });
  setInterval(() => undefined, 1 << 30); // keeps the process alive: scheduler timers are unref'ed
}

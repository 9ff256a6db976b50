/**
 * Failover and claim cost across replicas, on a redis-server of its own (so `INFO stats` counts
 * nothing but this scenario's commands):
 *
 * 1. Redis commands per run with 1, 2 and 3 replicas (partitioned, membership defaults): the
 *    server's `total_commands_processed` delta over a window divided by the runs started in it.
 *    Commands inside Lua scripts count too (INFO counts them). The heartbeat share is reported
 *    apart: it is per replica and per second, not per run.
 * 2. Failover: three replicas, one SIGKILLed at a random phase of the interval; for each fabric it
 *    owned (and was not running), the time from the kill to its next run on a survivor. Repeated
 *    for `lockTtl: 1500` with default membership, and for all defaults.
 *
 * Replicas are test/helpers/replica-child.ts processes (the same as the multi-process tests).
 */
import { writeFileSync } from 'node:fs';
import { lockedFabrics, measureFailover, percentile } from '../../test/helpers/failover.js';
import { startOwnRedis } from '../../test/helpers/redis.js';
import { fabricIds, runsOf, spawnReplica, stopReplicas, type Replica, type ReplicaConfig } from '../../test/helpers/replicas.js';
import { round, sleep } from '../lib/measure.js';

export interface FailoverParams {
  fabrics: number;
  intervalMs: number;
  /** Commands-per-run window per replica count, ms. */
  windowMs: number;
  /** Kill rounds per failover scenario. */
  rounds: number;
  tag: string;
}

const params = JSON.parse(process.argv[2]!) as FailoverParams;
const out = process.argv[3]!;
/** Heartbeat script cost as INFO counts it: EVALSHA + TIME, ZREMRANGEBYSCORE, ZADD, PEXPIRE, ZRANGE. */
const HEARTBEAT_COMMANDS = 6;
const DEFAULT_HEARTBEAT_MS = 500;

async function main() {
  const own = await startOwnRedis();
  const admin = own.client();
  const children: Replica[] = [];
  const fleet = (prefix: string, names: string[], extra: Partial<ReplicaConfig>) => {
    const reps = names.map((replica) =>
      spawnReplica({
        redisUrl: own.url,
        prefix,
        replica,
        fabrics: params.fabrics,
        interval: params.intervalMs,
        partition: true,
        minRunMs: 10,
        maxRunMs: 50,
        fencedCommit: false, // the host's commit is not syncwheel's cost
        upsertSpreadMs: params.intervalMs, // grids spread over the interval
        libraryDefaults: ['membershipTtl', 'heartbeatInterval'],
        lockTtl: 1_500,
        ...extra,
      }),
    );
    children.push(...reps);
    return reps;
  };
  const commandsProcessed = async () => Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
  try {
    // 1. commands per run vs replicas
    const perReplicas: Array<Record<string, number | null>> = [];
    for (const n of [1, 2, 3]) {
      await admin.flushall();
      const reps = fleet(`swbench:${params.tag}:cmd${n}`, Array.from({ length: n }, (_, i) => `r${i + 1}`), {});
      await Promise.all(reps.map((r) => r.ready));
      await sleep(3_000); // membership converged, first (catch-up) runs done
      const c0 = await commandsProcessed();
      const t0 = Date.now();
      await sleep(params.windowMs);
      const c1 = await commandsProcessed();
      const t1 = Date.now();
      const runs = runsOf(reps).filter((r) => r.start >= t0 && r.start < t1).length;
      await stopReplicas(reps);
      const commands = c1 - c0 - 1; // the second INFO
      const heartbeats = (n * HEARTBEAT_COMMANDS * (t1 - t0)) / DEFAULT_HEARTBEAT_MS;
      perReplicas.push({
        replicas: n,
        runs,
        commands,
        commandsPerRun: runs ? round(commands / runs, 2) : null,
        heartbeatCommandsPerRun: runs ? round(heartbeats / runs, 2) : null,
        commandsPerRunWithoutHeartbeats: runs ? round((commands - heartbeats) / runs, 2) : null,
        commandsPerSecond: round((commands * 1000) / (t1 - t0), 0),
      });
      console.log(`  ${n} replica(s): ${runs} runs, ${commands} commands, ${perReplicas.at(-1)!['commandsPerRun']} per run`);
    }

    // 2. failover
    const scenarios: Array<{ name: string; extra: Partial<ReplicaConfig>; boundMs: number }> = [
      { name: 'lockTtl 1500, default membership', extra: { lockTtl: 1_500 }, boundMs: 3_000 },
      { name: 'all defaults', extra: { libraryDefaults: ['lockTtl', 'membershipTtl', 'heartbeatInterval'] }, boundMs: 10_000 },
    ];
    const failover: Array<Record<string, unknown>> = [];
    for (const s of scenarios) {
      const delays: number[] = [];
      const roundMax: number[] = [];
      let owned = 0;
      let midRun = 0;
      let missing = 0;
      for (let k = 0; k < params.rounds; k++) {
        await admin.flushall();
        const prefix = `swbench:${params.tag}:fo${k}`;
        const reps = fleet(prefix, ['r1', 'r2', 'r3'], s.extra);
        await Promise.all(reps.map((r) => r.ready));
        await sleep(3_000 + Math.floor(Math.random() * params.intervalMs)); // kill at a random phase of the grid
        const killedAt = Date.now();
        reps[1]!.signal('SIGKILL');
        await reps[1]!.exited;
        const locked = await lockedFabrics(admin, prefix, fabricIds(params.fabrics));
        const window = 2 * params.intervalMs;
        const deadline = Date.now() + s.boundMs + params.intervalMs + 5_000;
        while (measureFailover(runsOf(reps), 'r2', killedAt, window, locked).missing.length > 0 && Date.now() < deadline) await sleep(100);
        await stopReplicas([reps[0]!, reps[2]!]);
        const m = measureFailover(runsOf(reps), 'r2', killedAt, window, locked);
        delays.push(...m.delays);
        roundMax.push(m.max);
        owned += m.owned.length;
        midRun += m.midRun.length;
        missing += m.missing.length;
        if (m.missing.length) console.log(`    never ran: ${m.missing.join(', ')}; locked at the kill: ${[...locked].join(', ')}`);
        console.log(`  ${s.name}, round ${k + 1}: ${m.owned.length} fabrics moved, p50 ${m.p50} ms, max ${m.max} ms${m.missing.length ? `, ${m.missing.length} never ran` : ''}`);
      }
      failover.push({
        scenario: s.name,
        targetMs: `${s.boundMs} + interval`,
        rounds: params.rounds,
        fabricsMoved: owned,
        midRunExcluded: midRun,
        neverRan: missing,
        p50Ms: percentile(delays, 50),
        p90Ms: percentile(delays, 90),
        maxMs: delays.length ? Math.max(...delays) : null,
        maxPerRoundMs: roundMax,
      });
    }
    writeFileSync(
      out,
      JSON.stringify({
        fabrics: params.fabrics,
        intervalMs: params.intervalMs,
        windowMs: params.windowMs,
        commandsPerRun: perReplicas,
        failover,
        note:
          `Own redis-server; commands as INFO stats total_commands_processed counts them (commands inside Lua scripts included). ` +
          `Heartbeat share estimated as replicas × ${HEARTBEAT_COMMANDS} commands per ${DEFAULT_HEARTBEAT_MS} ms. Failover: kill -> first start of each moved fabric on a survivor; ` +
          `grids are spread over the interval; fabrics whose lock the killed replica held are mid-run and not measured.`,
      }),
    );
  } finally {
    await stopReplicas(children, 'SIGKILL');
    admin.disconnect();
    await own.stop();
  }
  process.exit(0);
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});

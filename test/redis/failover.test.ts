/**
 * Failover in seconds: three replica processes on the real Redis, partitioned, one SIGKILLed;
 * every fabric it owned (and was not running) must run on a survivor within the membership delay
 * (`membershipTtl + heartbeatInterval`, 2.5 s with the defaults) plus one interval to its next
 * slot. Real time by nature: the bounds are wide and the measured figures are printed (the
 * benchmark, benchmarks/workers/failover.ts, reports them).
 */
import { describe, expect, it } from 'vitest';
import { lockedFabrics, measureFailover } from '../helpers/failover.js';
import { realRedisFleet } from '../helpers/multi-process-scenarios.js';
import { fabricIds, runsOf, slotsRunTwice, stopReplicas, type ReplicaConfig } from '../helpers/replicas.js';
import { sleep, until } from '../helpers/wait.js';

const INTERVAL = 1_000;
/** 45 fabrics at 1 s (grids spread over the interval), partitioned, short runs, membership left to the library's defaults. */
const FLEET: Partial<ReplicaConfig> = {
  fabrics: 45,
  interval: INTERVAL,
  partition: true,
  minRunMs: 20,
  maxRunMs: 80,
  fencedCommit: false,
  upsertSpreadMs: INTERVAL, // grids spread over the interval, as in a real fleet
  libraryDefaults: ['membershipTtl', 'heartbeatInterval'],
};
const fleet = realRedisFleet(FLEET);

/** Starts r1..r3, lets them settle, SIGKILLs r2 and measures how long its fabrics wait for a survivor. */
async function killOne(tag: string, extra: Partial<ReplicaConfig>, boundMs: number) {
  const prefix = fleet.newPrefix(tag);
  const reps = await fleet.start(prefix, ['r1', 'r2', 'r3'], extra);
  // every replica has seen the others (a heartbeat is 500 ms) and the grid is running
  await sleep(3_000);
  await until(() => reps.every((r) => r.lines.some((l) => l.type === 'start')), 5_000, 'every replica runs its share');
  await sleep(Math.floor(Math.random() * INTERVAL)); // any phase of the grid
  const killedAt = Date.now();
  reps[1]!.signal('SIGKILL');
  await reps[1]!.exited;
  const locked = await lockedFabrics(fleet.real, prefix, fabricIds(FLEET.fabrics!));
  const survivors = [reps[0]!, reps[2]!];
  const ownedWindow = 2 * INTERVAL;
  const pending = () => measureFailover(runsOf(reps), 'r2', killedAt, ownedWindow, locked).missing.length;
  await until(() => pending() === 0, boundMs + 3_000, 'every fabric of the killed replica ran on a survivor').catch(() => undefined);
  await sleep(INTERVAL); // one more slot, for the duplicate check
  await stopReplicas(survivors);
  const runs = runsOf(reps);
  const m = measureFailover(runs, 'r2', killedAt, ownedWindow, locked);
  console.log(
    `failover (${tag}): ${m.owned.length} fabrics of the killed replica (${m.midRun.length} mid-run, not measured): ` +
      `kill -> next run on a survivor p50 ${m.p50} ms, max ${m.max} ms (bound ${boundMs} ms)`,
  );
  return { m, runs, killedAt };
}

describe('failover: one of three replicas SIGKILLed (real Redis, child processes)', () => {
  it('with lockTtl 1500 and default membership, each of its fabrics runs on a survivor within 3 s + interval (+ slack)', { timeout: 60_000 }, async () => {
    const bound = 3_000 + INTERVAL + 2_000;
    const { m, runs, killedAt } = await killOne('failover', { lockTtl: 1_500 }, bound);
    expect(m.owned.length).toBeGreaterThan(5); // ~15 of 45
    expect(m.missing).toEqual([]);
    expect(m.max).toBeLessThanOrEqual(bound);
    expect(slotsRunTwice(runs)).toEqual([]);
    expect(runs.filter((r) => r.replica === 'r2' && r.start > killedAt)).toEqual([]);
  });

  it('with all defaults (lockTtl 30 s), each of its fabrics runs on a survivor within 10 s + interval (+ slack)', { timeout: 60_000 }, async () => {
    const bound = 10_000 + INTERVAL + 2_000;
    const { m, runs } = await killOne('failover-defaults', { libraryDefaults: ['lockTtl', 'membershipTtl', 'heartbeatInterval'] }, bound);
    expect(m.owned.length).toBeGreaterThan(5);
    expect(m.missing).toEqual([]);
    expect(m.max).toBeLessThanOrEqual(bound);
    expect(slotsRunTwice(runs)).toEqual([]);
  });
});

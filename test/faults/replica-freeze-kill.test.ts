/**
 * Fault suite: a replica frozen (SIGSTOP) longer than its lock lease while syncing, then resumed
 * (SIGCONT); a replica killed (SIGKILL) mid-sync. Replicas are real child processes
 * (test/helpers/replica-child.ts) on the real Redis under a random prefix. Their executor ends
 * with a fenced commit to a downstream key and deliberately ignores ctx.signal, so fencing alone
 * has to refuse the stale holder's write. Real time; tolerances are wide.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { cleanupPrefix, randomPrefix, realClient } from '../helpers/redis.js';
import { downstreamKey, runsOf, slotsRunTwice, spawnReplica, stopReplicas, type Replica, type ReplicaConfig, type ReplicaLine } from '../helpers/replicas.js';
import { sleep, until } from '../helpers/wait.js';

const real = realClient();
const children: Replica[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  await stopReplicas(children.splice(0), 'SIGKILL');
  for (const p of prefixes.splice(0)) {
    await cleanupPrefix(real, p);
    await real.del(downstreamKey(p, 'f0000'));
  }
});
afterAll(async () => {
  await real.quit();
});

const LOCK_TTL = 1_000;

/** Spawns a replica (killed after the test) and waits until it is ready. */
async function start(prefix: string, replica: string, extra: Partial<ReplicaConfig> = {}): Promise<Replica> {
  const r = spawnReplica({ prefix, replica, lockTtl: LOCK_TTL, interval: 1_000, ...extra });
  children.push(r);
  await r.ready;
  return r;
}

/** The run `r` is in the middle of right now (a start line without its end line), if any. */
function runningNow(r: Replica): ReplicaLine | undefined {
  const ended = new Set(r.lines.filter((l) => l.type === 'end').map((l) => l.token));
  return r.lines.filter((l) => l.type === 'start' && !ended.has(l.token)).at(-1);
}

/**
 * Replicas A (runs of 2.5 s: several lock extensions) and B (runs of 100 ms) on one fabric under
 * a fresh prefix, once A is well into a run: returns them with that run's start line.
 */
async function aMidRunBesideB(tag: string): Promise<{ prefix: string; a: Replica; b: Replica; run: ReplicaLine }> {
  const prefix = randomPrefix(tag);
  prefixes.push(prefix);
  const a = await start(prefix, 'A', { minRunMs: 2_500, maxRunMs: 2_501 });
  const b = await start(prefix, 'B', { minRunMs: 100, maxRunMs: 101 });
  // A window of 1.4 s in each 2.5 s run of A, looked for up to 30 s: both replicas race for every
  // slot, and on a machine busy with other suites this process polls late (it once found none in 15 s).
  await until(() => {
    const run = runningNow(a);
    return run !== undefined && Date.now() - run.at! > 200 && Date.now() - run.at! < 1_600;
  }, 30_000, 'A in the middle of a run');
  return { prefix, a, b, run: runningNow(a)! };
}

describe('a replica frozen (SIGSTOP) longer than the lease while syncing, then resumed', () => {
  it('the other replica takes over; the stale holder’s write is refused by fencing; the resumed replica stands down cleanly and carries on', { timeout: 60_000 }, async () => {
    const { prefix, a, b, run: frozenRun } = await aMidRunBesideB('freeze');
    const stopAt = Date.now();
    a.signal('SIGSTOP');
    await sleep(3 * LOCK_TTL);
    const contAt = Date.now();
    a.signal('SIGCONT');
    await sleep(3_000);
    b.signal('SIGTERM');
    a.signal('SIGTERM');
    await Promise.all([a.exited, b.exited]);

    const runs = runsOf([a, b]);
    // 1. B took over while A was frozen
    const takeover = runs.filter((r) => r.replica === 'B' && r.start > stopAt && r.start < contAt);
    expect(takeover.length, 'B ran the fabric while A was frozen').toBeGreaterThanOrEqual(1);
    expect(takeover[0]!.start - stopAt).toBeLessThan(LOCK_TTL + 1_000 + 1_000); // lease + one interval + slack
    expect(takeover[0]!.token).toBeGreaterThan(frozenRun.token!);
    // 2. A's stale write was refused by the downstream fencing check
    const stale = runs.find((r) => r.replica === 'A' && r.token === frozenRun.token)!;
    expect(stale.end, 'the frozen run finished after SIGCONT').toBeGreaterThan(contAt);
    expect(stale.committed, 'stale holder refused').toBe(false);
    expect(stale.aborted, 'and its ctx.signal was aborted by then').toBe(true);
    // 3. A stood down: its run failed as lock-lost, no error/unhandled, and it exited cleanly on SIGTERM
    const aFailed = a.lines.filter((l) => l.type === 'failed' && l['token'] === frozenRun.token);
    expect(aFailed.map((l) => l['reason'])).toEqual(['lock-lost']);
    expect(a.lines.filter((l) => l.type === 'unhandled')).toEqual([]);
    expect(a.lines.some((l) => l.type === 'stopped')).toBe(true);
    // 4. what the downstream accepted is in strictly increasing token order, ending with the highest token handed out
    const accepted = runs.filter((r) => r.committed).sort((x, y) => x.end! - y.end!);
    for (let i = 1; i < accepted.length; i++) expect(accepted[i]!.token).toBeGreaterThan(accepted[i - 1]!.token);
    expect(Number(await real.get(downstreamKey(prefix, 'f0000')))).toBe(Math.max(...accepted.map((r) => r.token)));
    expect(slotsRunTwice(runs), 'no slot run twice').toEqual([]);
    console.log(`SIGSTOP ${contAt - stopAt} ms (lease ${LOCK_TTL} ms): B took over ${takeover[0]!.start - stopAt} ms after the freeze; A's stale commit (token ${stale.token}) refused, highest accepted ${Math.max(...accepted.map((r) => r.token))}; ${runs.filter((r) => r.replica === 'A' && r.start > contAt).length} runs by A after it resumed`);
  });
});

describe('a replica killed (SIGKILL) mid-sync', () => {
  it("the fabric's next slot runs on another replica within one lease (plus one interval), never twice", { timeout: 60_000 }, async () => {
    const { a, b, run: killedRun } = await aMidRunBesideB('kill');
    const killAt = Date.now();
    a.signal('SIGKILL');
    await a.exited;
    await until(() => b.lines.some((l) => l.type === 'start' && l.at! > killAt), 10_000, 'B runs the fabric');
    await sleep(1_500);
    b.signal('SIGTERM');
    await b.exited;
    const runs = runsOf([a, b]);
    const next = runs.find((r) => r.replica === 'B' && r.start > killAt)!;
    const gap = next.start - killAt;
    expect(gap).toBeLessThanOrEqual(LOCK_TTL + 1_000 + 500);
    expect(next.scheduledAt).toBeGreaterThan(killedRun.scheduledAt!);
    expect(next.token).toBeGreaterThan(killedRun.token!);
    expect(runs.filter((r) => r.start > killAt).every((r) => r.replica === 'B')).toBe(true);
    expect(slotsRunTwice(runs), 'no slot run twice').toEqual([]);
    console.log(`SIGKILL mid-sync: next run on B ${gap} ms after the kill (lease ${LOCK_TTL} ms, interval 1000 ms)`);
  });
});

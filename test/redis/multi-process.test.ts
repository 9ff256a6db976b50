/**
 * Several replicas as real child processes on the real Redis: crash of one replica half-way,
 * and a full restart. The scenarios (test/helpers/multi-process-scenarios.ts) are shared with
 * multi-process-cluster.test.ts. Real time by nature; tolerances are wide.
 */
import { describe, it } from 'vitest';
import { fullRestart, MP_FLEET, realRedisFleet, sigkillHalfway } from '../helpers/multi-process-scenarios.js';

/** 20 fabrics at 1 s, partitioned; runs of 50..300 ms without a downstream commit. */
const fleet = realRedisFleet({ ...MP_FLEET, fencedCommit: false });

describe('three replicas, 20 fabrics at 1 s, one SIGKILLed half-way (real Redis)', () => {
  it('runs each slot at most once, never overlaps a fabric, keeps tokens increasing, and the survivors take over', { timeout: 60_000 }, async () => {
    await sigkillHalfway({ fleet, label: 'redis' });
  });
});

describe('full restart: stop every replica, start new ones on the same prefix (real Redis)', () => {
  it('resumes every fabric on its grid and applies missedRunPolicy once to the downtime', { timeout: 60_000 }, async () => {
    await fullRestart({ fleet, label: 'redis' });
  });
});

/**
 * Run history across replicas (issue 13, item 5), on the real Redis: two replica processes run
 * one fabric one after the other; its stored history names both, newest first, capped at 20.
 * Real time by nature. The scenario lives in test/helpers/multi-process-scenarios.ts.
 */
import { describe, it } from 'vitest';
import { historyAcrossReplicas, realRedisFleet } from '../helpers/multi-process-scenarios.js';

const fleet = realRedisFleet({});

describe('run history written by two replicas for one fabric (real Redis)', () => {
  it('keeps the newest 20 runs, newest first, each naming its replica, token, slot and trigger', { timeout: 60_000 }, async () => {
    await historyAcrossReplicas({ fleet, label: 'redis', client: fleet.real });
  });
});

/**
 * The fleet features of issue 13 across real processes on the real Redis: reconcile from the
 * host while two replicas run the fabrics, the spread phase on two replicas, and freshness
 * (`fabric:stale`, `getFabricStatus`) when a fabric's target goes down on both. Scenarios in
 * test/helpers/multi-process-scenarios.ts. Real time by nature; tolerances are wide.
 */
import { describe, it } from 'vitest';
import { freshnessAcrossReplicas, realRedisFleet, reconcileAcrossReplicas, spreadAcrossReplicas } from '../helpers/multi-process-scenarios.js';

const fleet = realRedisFleet({});

describe('reconcile across processes (real Redis)', () => {
  it('the host drops three fabrics, changes an interval and adds one: both replicas follow within one housekeeping interval', { timeout: 60_000 }, async () => {
    await reconcileAcrossReplicas({ fleet, label: 'redis', client: fleet.real });
  });
});

describe("phase: 'spread' across processes (real Redis)", () => {
  it('two replicas run every fabric on its offset grid (the id hash), offsets spread, each slot once', { timeout: 60_000 }, async () => {
    await spreadAcrossReplicas({ fleet, label: 'redis' });
  });
});

describe('freshness across processes (real Redis)', () => {
  it('a failing fabric and a paused one cross maxStaleness: fabric:stale from a replica, the host reads error and out_of_sync', { timeout: 60_000 }, async () => {
    await freshnessAcrossReplicas({ fleet, label: 'redis', client: fleet.real });
  });
});

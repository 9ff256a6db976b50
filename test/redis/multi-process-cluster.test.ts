/**
 * The multi-process scenarios of multi-process.test.ts (test/helpers/multi-process-scenarios.ts)
 * on a real local Redis Cluster (3 masters, started once for this file): three replica child
 * processes, each with one ioredis `Cluster` for its RedisStorage, its RedlockSingleFlight
 * (`clients: [cluster]`: redis-semaphore's Mutex and the membership heartbeat through the cluster
 * client) and its fenced downstream commit. The prefix holds braces, so a hash tag in a prefix
 * must not pull every key into one slot. Real time by nature; tolerances are wide.
 */
import type { Cluster } from 'ioredis';
import { beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/redis/keys.js';
import { fullRestart, MP_FLEET, replicaFleet, sigkillHalfway } from '../helpers/multi-process-scenarios.js';
import { cleanupClusterPrefix, startOwnCluster, type OwnCluster } from '../helpers/redis-cluster.js';

let cluster: OwnCluster;
let client: Cluster;
let nodes: Array<{ host: string; port: number }>;
beforeAll(async () => {
  cluster = await startOwnCluster();
  client = cluster.client();
  nodes = cluster.ports.map((port) => ({ host: '127.0.0.1', port }));
}, 90_000);

/** As multi-process.test.ts, plus a fenced commit per run through the cluster client; prefixes with a hash tag in them (`…:mp{x}:…`). */
const fleet = replicaFleet({
  config: () => ({ ...MP_FLEET, fencedCommit: true, clusterNodes: nodes }),
  cleanup: (p) => cleanupClusterPrefix(client, p),
  close: async () => cluster?.stop(),
  prefixTag: (tag) => `${tag}{x}`,
});

/** How many of the prefix's fabric records each master holds. */
async function recordsPerMaster(prefix: string): Promise<number[]> {
  const pattern = `${redisKeys(prefix).base}:r:*`;
  return Promise.all(client.nodes('master').map(async (n) => (await n.keys(pattern)).length));
}

describe('three replicas on a 3-master Redis Cluster, 20 fabrics at 1 s, one SIGKILLed half-way', () => {
  it('runs each slot at most once, never overlaps a fabric, keeps tokens increasing, and the survivors take over', { timeout: 60_000 }, async () => {
    await sigkillHalfway({
      fleet,
      label: 'cluster',
      committedDownstream: true,
      extraChecks: async (prefix) => {
        // the fabrics really live on several masters (the prefix's `{x}` is not their hash tag)
        const perMaster = await recordsPerMaster(prefix);
        expect(perMaster.reduce((a, b) => a + b, 0)).toBe(MP_FLEET.fabrics);
        expect(perMaster.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
        return [`records per master ${JSON.stringify(perMaster)}`];
      },
    });
  });
});

describe('full restart on a 3-master Redis Cluster: stop every replica, start new ones on the same prefix', () => {
  it('resumes every fabric on its grid with rising tokens and applies missedRunPolicy once to the downtime', { timeout: 60_000 }, async () => {
    await fullRestart({ fleet, label: 'cluster', committedDownstream: true });
  });
});

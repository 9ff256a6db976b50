/**
 * A real Redis Cluster for tests: N masters (no replicas) on spare loopback ports, started with
 * `redis-server --cluster-enabled yes` and joined with `redis-cli --cluster create`, in a temp
 * dir of their own. `stop()` kills exactly the servers it started (by PID) and removes the dir.
 * Every wait is bounded; a timeout names the step that did not finish.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { keyPatterns } from '../../src/redis/keys.js';
import { freePort } from './redis.js';

/** How long one node may take to answer after its spawn. */
export const NODE_START_TIMEOUT_MS = 10_000;
/** How long `redis-cli --cluster create` may take. */
export const CLUSTER_CREATE_TIMEOUT_MS = 30_000;
/** How long every node may take to report `cluster_state:ok` after the create. */
export const CLUSTER_OK_TIMEOUT_MS = 30_000;

export interface OwnCluster {
  readonly ports: readonly number[];
  /** A Cluster client that fails fast (errors handled); close it yourself (or let `stop()` do it). */
  client(options?: ClusterOptions): Cluster;
  /** Kills every node by PID, closes the clients handed out, removes the temp dir. */
  stop(): Promise<void>;
}

class ClusterTimeoutError extends Error {
  constructor(step: string, ms: number, detail: string) {
    super(`${step} did not finish within ${ms} ms: ${detail}`);
  }
}

async function until(step: string, ms: number, check: () => Promise<boolean>, detail: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new ClusterTimeoutError(step, ms, detail());
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function probe<T>(port: number, f: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await f(c);
  } finally {
    c.disconnect();
  }
}

/** Starts a cluster of `masters` (default 3) masters. */
export async function startOwnCluster(options: { masters?: number } = {}): Promise<OwnCluster> {
  const masters = options.masters ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'sw-cluster-'));
  const children: ChildProcess[] = [];
  const clients: Cluster[] = [];
  const ports: number[] = [];
  const stop = async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await Promise.all(
      children.splice(0).map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
            child.once('exit', () => resolve());
            process.kill(child.pid, 'SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '5000', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning', '--protected-mode', 'yes'],
        { stdio: 'ignore' },
      );
      children.push(child);
      ports.push(port);
      await until(
        `node ${port} start (NODE_START_TIMEOUT_MS)`,
        NODE_START_TIMEOUT_MS,
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited (${child.exitCode})`);
          const info = await probe(port, (c) => c.info('server'));
          return new RegExp(`^process_id:${child.pid}\\r?$`, 'm').test(info); // ours, not someone else's on that port
        },
        () => `redis-server on 127.0.0.1:${port} (pid ${child.pid}) did not answer as ours`,
      );
    }
    await new Promise<void>((resolve, reject) => {
      execFile(
        'redis-cli',
        ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
        { timeout: CLUSTER_CREATE_TIMEOUT_MS },
        (error, stdout, stderr) => (error ? reject(new ClusterTimeoutError('redis-cli --cluster create (CLUSTER_CREATE_TIMEOUT_MS)', CLUSTER_CREATE_TIMEOUT_MS, `${error.message}\n${stdout}\n${stderr}`)) : resolve()),
      );
    });
    for (const port of ports) {
      let last = '';
      await until(
        `cluster_state:ok on ${port} (CLUSTER_OK_TIMEOUT_MS)`,
        CLUSTER_OK_TIMEOUT_MS,
        async () => {
          last = await probe(port, (c) => c.cluster('INFO') as Promise<string>);
          return /cluster_state:ok/.test(last);
        },
        () => last,
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    ports,
    client: (o: ClusterOptions = {}) => {
      const c = new Cluster(
        ports.map((port) => ({ host: '127.0.0.1', port })),
        { redisOptions: { maxRetriesPerRequest: 1 }, slotsRefreshTimeout: 2_000, ...o },
      );
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    },
    stop,
  };
}

/** Every key of `prefix` on every master (SCAN per node). */
export async function clusterKeys(cluster: Cluster, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for (const node of cluster.nodes('master')) {
    for (const pattern of keyPatterns(prefix)) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== '0');
    }
  }
  return keys;
}

/** Deletes every key of `prefix` (one DEL per key: keys live in different slots). */
export async function cleanupClusterPrefix(cluster: Cluster, prefix: string): Promise<number> {
  let n = 0;
  for (const key of await clusterKeys(cluster, prefix)) n += await cluster.del(key);
  return n;
}

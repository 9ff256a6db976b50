/** Helpers for tests that talk to Redis: clients, random prefixes, cleanup, spare servers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import RedisMock from 'ioredis-mock';
import { keyPatterns } from '../../src/redis/keys.js';

export const REDIS_URL = process.env['SYNCWHEEL_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A fresh prefix per test, so tests never see each other's keys. */
export function randomPrefix(tag = 't'): string {
  return `swtest:${tag}:${randomBytes(6).toString('hex')}`;
}

/** A client to the real Redis that fails fast instead of queueing forever, with errors handled. */
export function realClient(options: RedisOptions = {}): Redis {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: false, ...options });
  client.on('error', () => undefined);
  return client;
}

/** An ioredis-mock client (typed as an ioredis `Redis`). Instances share data per host:port. */
export function mockClient(): Redis {
  const Ctor = RedisMock as unknown as new (options?: object) => Redis;
  return new Ctor({ port: 6000 + Math.floor(Math.random() * 1000), host: `mock-${randomBytes(4).toString('hex')}` });
}

/** Deletes every key of `prefix` (SCAN + DEL), locks and membership included. */
export async function cleanupPrefix(client: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  for (const pattern of keyPatterns(prefix)) {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await client.del(...keys);
    } while (cursor !== '0');
  }
  return deleted;
}

/** Counts the keys of `prefix`. */
export async function countKeys(client: Redis, prefix: string): Promise<number> {
  let n = 0;
  for (const pattern of keyPatterns(prefix)) {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      n += keys.length;
    } while (cursor !== '0');
  }
  return n;
}

/** A TCP port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A redis-server of our own (for fault tests), on a spare port. Stop it with `stop()`. */
export interface OwnRedis {
  readonly port: number;
  readonly url: string;
  /** Whether the server is up right now. */
  readonly up: boolean;
  /** Starts (or restarts) the server on the same port. */
  start(): Promise<void>;
  /** SIGTERM with `persistDir` (an RDB is written and read back on the next start), else SIGKILL. */
  stop(): Promise<void>;
  /** SIGKILL: nothing is saved. */
  kill(): Promise<void>;
  /** SIGTERM: with `persistDir`, an RDB is written and read back on the next start. */
  shutdown(): Promise<void>;
}

/**
 * Starts a redis-server on a spare port (loopback only). With `persistDir`, it saves an RDB there
 * when shut down and loads it on `start()`, like a Redis restart that keeps its data; without, it
 * runs with `--save "" --appendonly no` and a restart loses everything.
 */
export async function startOwnRedis(options: { port?: number; persistDir?: string } = {}): Promise<OwnRedis> {
  const p = options.port ?? (await freePort());
  const persist = options.persistDir;
  let child: ChildProcess | undefined;
  const start = async () => {
    if (child) return;
    const args = ['--port', String(p), '--bind', '127.0.0.1', '--appendonly', 'no', '--loglevel', 'warning', '--protected-mode', 'yes'];
    args.push(...(persist ? ['--save', '3600 1', '--dir', persist, '--dbfilename', `dump-${p}.rdb`] : ['--save', '']));
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    child = c;
    c.once('exit', () => {
      if (child === c) child = undefined;
    });
    const probe = new Redis(p, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    for (let i = 0; i < 200; i++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    throw new Error(`redis-server on port ${p} did not answer`);
  };
  const signal = async (sig: NodeJS.Signals) => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(sig);
    });
  };
  await start();
  return {
    port: p,
    url: `redis://127.0.0.1:${p}`,
    get up() {
      return child !== undefined;
    },
    start,
    stop: () => signal(persist ? 'SIGTERM' : 'SIGKILL'),
    kill: () => signal('SIGKILL'),
    shutdown: () => signal('SIGTERM'),
  };
}

/** Helpers for tests that talk to Redis: clients, random prefixes, cleanup, spare servers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import RedisMock from 'ioredis-mock';
import { afterAll } from 'vitest';
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

/** The keys of `prefix` (locks and membership included), a SCAN batch at a time. */
async function* keyBatches(client: Redis, prefix: string): AsyncGenerator<string[]> {
  // and the test replicas' fenced-commit targets (`downstreamKey`), which are not syncwheel's keys
  const testKeys = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:downstream:*`;
  for (const pattern of [...keyPatterns(prefix), testKeys]) {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }
}

/** Deletes every key of `prefix` (SCAN + DEL), locks and membership included. */
export async function cleanupPrefix(client: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  for await (const keys of keyBatches(client, prefix)) deleted += await client.del(...keys);
  return deleted;
}

/** Counts the keys of `prefix`. */
export async function countKeys(client: Redis, prefix: string): Promise<number> {
  let n = 0;
  for await (const keys of keyBatches(client, prefix)) n += keys.length;
  return n;
}

const PORTS = { from: 6390, to: 6689 };
const handedOut = new Set<number>();
const RESERVATIONS = join(tmpdir(), 'syncwheel-test-ports');

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Reserves `port` for this process across processes (vitest runs test files in several workers,
 * each with its own `handedOut`): a file named after the port, created exclusively, holding our
 * PID. A file whose PID is gone is taken over. Reservations are dropped when the process exits.
 */
export function reserve(port: number): boolean {
  mkdirSync(RESERVATIONS, { recursive: true });
  const file = join(RESERVATIONS, `${port}.pid`);
  for (let i = 0; i < 2; i++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      reserved.add(file);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) return false;
      rmSync(file, { force: true }); // its process is gone
    }
  }
  return false;
}

const reserved = new Set<string>();
process.once('exit', () => {
  for (const file of reserved) rmSync(file, { force: true });
});

/**
 * A loopback port in 6390..6689 that nobody listens on right now and that no test process has
 * handed out before (a reservation file per port, so a server stopped and restarted on its port
 * keeps it while it is down, even with other workers picking ports meanwhile). The range is
 * outside the ephemeral one, so no outgoing connection takes the port while its server is down.
 */
export async function freePort(): Promise<number> {
  const size = PORTS.to - PORTS.from + 1;
  const first = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = PORTS.from + ((first + i) % size);
    if (handedOut.has(port)) continue;
    handedOut.add(port); // before the check, so that concurrent calls never pick the same port
    if (reserve(port)) {
      if (await portIsFree(port)) return port;
      // someone outside the tests listens there: keep it marked, never try it again
    } else handedOut.delete(port);
  }
  throw new Error(`no free port in ${PORTS.from}..${PORTS.to}`);
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
  /** A client to this server that fails fast (maxRetriesPerRequest 1, reconnects every 100 ms), errors handled; close it yourself. */
  client(options?: RedisOptions): Redis;
}

/** The server could not be started as ours on that port (taken, or it exited before answering). */
class PortTakenError extends Error {}

/**
 * Starts a redis-server on a spare port from {@link freePort} (loopback only; another port is
 * tried if someone else binds the chosen one first). With `persistDir`, it saves an RDB there
 * when shut down and loads it on `start()`, like a Redis restart that keeps its data; without, it
 * runs with `--save ""` and a restart loses everything.
 */
export async function startOwnRedis(options: { port?: number; persistDir?: string } = {}): Promise<OwnRedis> {
  if (options.port !== undefined) return launchRedis(options.port, options.persistDir);
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchRedis(await freePort(), options.persistDir);
    } catch (error) {
      if (!(error instanceof PortTakenError) || attempt >= 5) throw error;
    }
  }
}

async function launchRedis(p: number, persist: string | undefined): Promise<OwnRedis> {
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
    try {
      for (let i = 0; i < 200; i++) {
        if (c.exitCode !== null) throw new PortTakenError(`redis-server on port ${p} exited (${c.exitCode}) before answering`);
        try {
          await probe.connect();
          // the server answering must be ours, not another process's that took the port first
          const info = await probe.info('server');
          if (new RegExp(`^process_id:${c.pid}\\r?$`, 'm').test(info)) return;
          throw new PortTakenError(`port ${p} is taken by another redis-server`);
        } catch (error) {
          if (error instanceof PortTakenError) throw error;
          probe.disconnect();
          await new Promise((r) => setTimeout(r, 25));
        }
      }
      throw new Error(`redis-server on port ${p} did not answer`);
    } catch (error) {
      c.kill('SIGKILL');
      throw error;
    } finally {
      probe.disconnect();
    }
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
    client: (o: RedisOptions = {}) => {
      const c = new Redis(p, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 100, ...o });
      c.on('error', () => undefined);
      return c;
    },
  };
}

/**
 * For a suite that starts schedulers on the real Redis: a client, and lists the suite fills with
 * the prefixes and schedulers it uses; after the suite every scheduler is stopped (aborting its
 * runs), every prefix cleaned up and the client closed. Call it at the top level of the file.
 */
export function redisSuite(): { client: Redis; prefixes: string[]; schedulers: Array<{ stop(o: { inFlight: 'abort' }): Promise<void> }> } {
  const suite = { client: realClient(), prefixes: [] as string[], schedulers: [] as Array<{ stop(o: { inFlight: 'abort' }): Promise<void> }> };
  afterAll(async () => {
    await Promise.all(suite.schedulers.map((s) => s.stop({ inFlight: 'abort' })));
    for (const p of suite.prefixes) await cleanupPrefix(suite.client, p);
    suite.client.disconnect();
  });
  return suite;
}

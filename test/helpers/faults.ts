/** Helpers for the fault suite (test/faults) and the soak: spare ports, waiting, own redis-servers. */
import { createServer } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { startOwnRedis, type OwnRedis } from './redis.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms; resolves with the time it took, rejects after `timeoutMs`. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(10);
  }
  return Date.now() - t0;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

const taken = new Set<number>();
/** A free port in 6390..6420 (the fault suite's range), never handed out twice by this process. */
export async function sparePort(): Promise<number> {
  const start = 6390 + Math.floor(Math.random() * 31);
  for (let i = 0; i < 31; i++) {
    const p = 6390 + ((start - 6390 + i) % 31);
    if (taken.has(p)) continue;
    if (await portIsFree(p)) {
      taken.add(p);
      return p;
    }
  }
  throw new Error('no free port in 6390..6420');
}

export interface FaultRedis extends OwnRedis {
  /** A client to this server that fails fast (maxRetriesPerRequest 1) with errors handled. */
  client(options?: RedisOptions): Redis;
}

/** {@link startOwnRedis} on a port of the fault suite's range (6390..6420), with a client factory. */
export async function ownRedis(options: { persistDir?: string } = {}): Promise<FaultRedis> {
  const server = await startOwnRedis({ ...options, port: await sparePort() });
  return Object.assign(server, {
    client: (o: RedisOptions = {}) => {
      const c = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 100, ...o });
      c.on('error', () => undefined);
      return c;
    },
  });
}

/** Collects unhandled rejections and uncaught exceptions while installed. */
export function trapUnhandled(): { readonly seen: unknown[]; dispose(): void } {
  const seen: unknown[] = [];
  const onRejection = (reason: unknown) => seen.push(reason);
  const onException = (error: unknown) => seen.push(error);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    seen,
    dispose: () => {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

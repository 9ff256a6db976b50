/** Helpers for the fault suite (test/faults) and the soak: spare ports, waiting, own redis-servers. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';

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

export interface FaultRedis {
  readonly port: number;
  /** Whether the server is up right now. */
  readonly up: boolean;
  /** Starts (or restarts) the server on the same port. */
  start(): Promise<void>;
  /** SIGKILL: nothing is saved. */
  kill(): Promise<void>;
  /** SIGTERM: with `persistDir`, an RDB is written and read back on the next start. */
  shutdown(): Promise<void>;
  /** A client to this server that fails fast (maxRetriesPerRequest 1) with errors handled. */
  client(options?: RedisOptions): Redis;
}

/**
 * A redis-server of our own on a port in 6390..6420, loopback only. Without `persistDir` it runs
 * with `--save "" --appendonly no` (a restart loses everything, as many caches run).
 */
export async function ownRedis(options: { persistDir?: string } = {}): Promise<FaultRedis> {
  const port = await sparePort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    if (child) return;
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'no', '--loglevel', 'warning', '--protected-mode', 'yes'];
    args.push(...(options.persistDir ? ['--save', '3600 1', '--dir', options.persistDir, '--dbfilename', `dump-${port}.rdb`] : ['--save', '']));
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    child = c;
    c.once('exit', () => {
      if (child === c) child = undefined;
    });
    const probe = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    for (let i = 0; i < 200; i++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await sleep(25);
      }
    }
    throw new Error(`redis-server on port ${port} did not answer`);
  };
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
    child = undefined;
  };
  await start();
  return {
    port,
    get up() {
      return child !== undefined;
    },
    start,
    kill: () => stop('SIGKILL'),
    shutdown: () => stop('SIGTERM'),
    client: (o: RedisOptions = {}) => {
      const c = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 100, ...o });
      c.on('error', () => undefined);
      return c;
    },
  };
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

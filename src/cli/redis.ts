/**
 * How the CLI reaches Redis: `--redis` URL validation, loading the optional peers, connecting
 * within `--timeout`, and (for the commands that scan every key of a prefix) finding out whether
 * the node is part of a Redis Cluster.
 */
import type { Cluster, Redis } from 'ioredis';
import { openCluster, shellQuote } from '../ops/purge.js';
import { SetupError, UnreachableError, UsageError, redact, type Cmd, type RedisTarget } from './shared.js';

/** Validates a redis:// or rediss:// URL the way ioredis will read it; bad ones are usage errors. */
export function parseRedisUrl(raw: string): RedisTarget {
  const bad = (why: string) => new UsageError(`Expected --redis to be a redis:// or rediss:// URL${why ? ` (${why})` : ''}, got ${JSON.stringify(raw)}`);
  if (!/^rediss?:\/\//i.test(raw)) throw bad('');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad('not a valid URL');
  }
  if (!u.hostname) throw bad('no host');
  if (u.port !== '' && !(Number(u.port) > 0)) throw bad('port out of range');
  const path = u.pathname.replace(/^\/+|\/+$/g, '');
  if (path !== '' && !/^\d{1,6}$/.test(path)) throw bad('the path must be a database number such as /0');
  const db = path === '' ? 0 : Number(path);
  u.pathname = '';
  return { url: u.toString(), db };
}

/** Loads an optional peer (ioredis, or the Redlock adapter needing redis-semaphore) or says what to install. */
export async function load<T>(what: () => Promise<T>, name: string): Promise<T> {
  try {
    return await what();
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const missing = e?.code === 'ERR_SYNCWHEEL_MISSING_PEER' || ((e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && e.message.includes(`'${name}'`));
    if (missing) throw new SetupError(`this command needs the package "${name}", which is not installed: npm install ${name}`);
    throw error;
  }
}

/** Rejects with an UnreachableError when `promise` has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UnreachableError(`${what}: no answer within ${ms} ms (--timeout)`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connects, proves the server answers and selects the database, all within `--timeout`. */
export async function connect(cmd: Cmd): Promise<Redis> {
  const { Redis } = await load(() => import('ioredis'), 'ioredis');
  const where = `Redis at ${redact(cmd.url)}`;
  // no ready check (an INFO with its own wait), no retries, no offline queue: the PING below is
  // the one probe, bounded with the connection by --timeout; later commands by commandTimeout.
  const client = new Redis(cmd.target.url, { lazyConnect: true, db: 0, maxRetriesPerRequest: 0, connectTimeout: cmd.timeout, commandTimeout: cmd.timeout, retryStrategy: () => null, enableOfflineQueue: false, enableReadyCheck: false });
  let lastError: Error | undefined;
  client.on('error', (e: Error) => (lastError = e));
  try {
    await within(
      (async () => {
        try {
          await client.connect();
          await client.ping();
        } catch (error) {
          throw new UnreachableError(`cannot reach ${where}: ${(lastError ?? (error as Error)).message || 'connection failed'}`);
        }
        if (cmd.target.db !== 0) {
          try {
            await client.select(cmd.target.db);
          } catch (error) {
            // never fall back to database 0: that is another deployment's data
            if (/DB index|invalid DB|SELECT is not allowed/i.test((error as Error).message)) throw new SetupError(`${where} has no database ${cmd.target.db}: ${(error as Error).message}`);
            throw new UnreachableError(`${where} failed to select database ${cmd.target.db}: ${(error as Error).message}`);
          }
        }
      })(),
      cmd.timeout,
      `cannot reach ${where}`,
    );
  } catch (error) {
    client.disconnect();
    throw error;
  }
  return client;
}

/**
 * When `client`'s node is part of a Redis Cluster (`cluster_enabled:1` in `INFO cluster`), a
 * ready ioredis `Cluster` seeded with it (the caller disconnects it); `undefined` on a single
 * Redis. For the commands that must scan every master (`purge`, `migrate`).
 */
export async function clusterOf(client: Redis, cmd: Cmd): Promise<Cluster | undefined> {
  // INFO may be renamed away on managed Redis: then it is taken for a single server
  if (!/^cluster_enabled:1\r?$/m.test(await client.info('cluster').catch(() => ''))) return undefined;
  if (cmd.target.db !== 0) throw new UsageError(`a Redis Cluster has only database 0, got --redis ${redact(cmd.url)}/${cmd.target.db}`);
  const { Cluster } = await load(() => import('ioredis'), 'ioredis');
  const cluster = openCluster(Cluster, cmd.target.url, cmd.timeout);
  try {
    await within(new Promise<void>((resolve, reject) => (cluster.once('ready', resolve), cluster.once('end', () => reject(new UnreachableError(`cannot reach the cluster at ${redact(cmd.url)}`))))), cmd.timeout, `cannot reach the cluster at ${redact(cmd.url)}`);
  } catch (error) {
    cluster.disconnect();
    throw error;
  }
  return cluster;
}

/** This command's `syncwheel <command> --prefix P` line (`--redis` without credentials, when it was given as a flag), for a dry run to print. */
export function commandLine(cmd: Cmd): string {
  return `syncwheel ${cmd.command} --prefix ${shellQuote(cmd.prefix)}${cmd.redisFlag ? ` --redis ${shellQuote(redact(cmd.url.replace(/\/$/, '') + (cmd.target.db ? `/${cmd.target.db}` : '')))}` : ''}`;
}

export function isRedisError(error: unknown): boolean {
  return error instanceof Error && /Redis|ECONNREFUSED|Connection is closed|timed out|Stream isn't writeable/i.test(`${error.name} ${error.message}`);
}

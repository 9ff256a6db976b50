/**
 * `syncwheel purge`: deletes every Redis key of one prefix (records, fences, run histories, locks, membership,
 * change log, schema marker, id index), in the current layout and in the 0.1 layout, on a single
 * Redis or on every master of a Redis Cluster. A dry run (the default) only counts.
 *
 * Safety: the prefix is matched literally (glob characters are escaped, braces are percent-encoded
 * as the current layout does), each key SCAN returns is classified again here, and a key that is
 * a syncwheel key of a *longer* prefix nested under this one (`P:sw:x` keeps its keys under
 * `P:sw:x:sw:…`) is left alone and reported. An empty prefix, or one made only of glob
 * characters, is refused with {@link PurgePrefixError} before Redis is touched.
 *
 * Only ioredis *types* are imported: this module never loads the optional peer itself.
 */
import type { Cluster, Redis } from 'ioredis';
import { SyncwheelError } from '../errors.js';
import { encodePrefix, hashTag, keyPatterns, redisKeys } from '../redis/keys.js';

/** What a key of a prefix is. `other`: the schema marker, the id index, and any unknown key under `P:sw:`. */
export type PurgeKind = 'records' | 'fences' | 'history' | 'locks' | 'membership' | 'log' | 'other';
export const PURGE_KINDS: readonly PurgeKind[] = Object.freeze(['records', 'fences', 'history', 'locks', 'membership', 'log', 'other']);

/** The prefix given to purge was refused (empty, blank, or only glob characters). Nothing was read or deleted. */
export class PurgePrefixError extends SyncwheelError {
  readonly prefix: string;
  constructor(prefix: string, why: string) {
    super(`Expected prefix to be ${why}, got ${JSON.stringify(prefix)}`);
    this.prefix = prefix;
  }
}

/** Options of {@link purgePrefix}. */
export interface PurgeOptions {
  /** The prefix given to `RedisStorage` / `RedlockSingleFlight`. */
  prefix: string;
  /**
   * Only count (true) or really delete with UNLINK (false).
   * @default true
   */
  dryRun?: boolean;
  /**
   * SCAN COUNT hint and the number of keys unlinked per round trip.
   * @default 500
   */
  batchSize?: number;
}

/** What {@link purgePrefix} found (dry run) or deleted. */
export interface PurgeReport {
  prefix: string;
  dryRun: boolean;
  /** Masters scanned: 1 on a single Redis, every master on a cluster. */
  masters: number;
  /** Keys found (dry run) or deleted, per kind. */
  counts: Record<PurgeKind, number>;
  /** Sum of `counts`. */
  total: number;
  /** Keys under this prefix's namespace that belong to a longer prefix nested under it: never deleted. */
  nested: { count: number; samples: string[] };
  /** Replicas whose membership heartbeat has not expired (by this machine's clock): they would write keys again. */
  liveReplicas: number;
  /** After a real purge: keys of the prefix still there (written meanwhile, or a failed UNLINK). 0 in a dry run. */
  remaining: number;
  /** UNLINK replies that were errors (MOVED during resharding, …), with the first message. */
  errors: { count: number; first: string | undefined };
}

/** Refuses a prefix that would match too much or nothing meaningful. */
export function assertPurgeablePrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || prefix.length === 0) throw new PurgePrefixError(String(prefix ?? ''), 'a non-empty string');
  if (prefix.trim() === '') throw new PurgePrefixError(prefix, 'more than white space');
  if (/^[\s*?[\]\\]*$/.test(prefix)) throw new PurgePrefixError(prefix, 'a literal prefix, not only glob characters (* ? [ ] \\): purge never matches "everything"');
}

const NEW_SHARED: Record<string, PurgeKind> = { schema: 'other', ids: 'other', log: 'log', members: 'membership' };
const LEGACY_SHARED: Record<string, PurgeKind> = { schema: 'other', ids: 'other', members: 'membership' };
const NEW_TAGGED = /^(r|f|h):\{([0-9a-f]{8})\}:([\s\S]*)$/;
const NEW_LOCK = /^l:\{([0-9a-f]{8})\}:([\s\S]*)$/;
/** A tail that is the whole key of some prefix's base (`…:sw`), in either layout. */
const ANY_TAIL = /^(schema|ids|log|members|[rfh]:\{[0-9a-f]{8}\}:[\s\S]*|rec:[\s\S]+|fence:[\s\S]+)$/;
const ANY_LOCK_TAIL = /^(l:\{[0-9a-f]{8}\}:[\s\S]*|lock:[\s\S]+)$/;

/**
 * Which kind of key of `prefix` `key` is; `undefined` when it is not one (outside the prefix, or a
 * key of a longer prefix nested under it, see {@link isNestedKey}).
 */
export function classifyKey(prefix: string, key: string): PurgeKind | undefined {
  const lock = key.startsWith('mutex:');
  const k = lock ? key.slice('mutex:'.length) : key;
  const base = `${encodePrefix(prefix)}:sw:`;
  const legacy = `${prefix}:sw:`;
  // Current layout: a tagged key is ours only when its tag is the hash of its id (an encoded
  // prefix holds no brace, so no nested prefix can produce such a key).
  if (k.startsWith(base)) {
    const tail = k.slice(base.length);
    if (lock) {
      const m = NEW_LOCK.exec(tail);
      if (m && hashTag(m[2]!) === m[1]) return 'locks';
    } else {
      if (Object.hasOwn(NEW_SHARED, tail)) return NEW_SHARED[tail];
      const m = NEW_TAGGED.exec(tail);
      if (m && hashTag(m[3]!) === m[2]) return m[1] === 'r' ? 'records' : m[1] === 'h' ? 'history' : 'fences';
    }
  }
  const under = k.startsWith(base) ? base : k.startsWith(legacy) ? legacy : undefined;
  if (under === undefined) return undefined;
  if (isNestedKey(k, under.length, lock)) return undefined;
  if (under === legacy) {
    const tail = k.slice(legacy.length);
    if (lock) return tail.startsWith('lock:') ? 'locks' : 'other';
    if (Object.hasOwn(LEGACY_SHARED, tail)) return LEGACY_SHARED[tail];
    if (tail.startsWith('rec:')) return 'records';
    if (tail.startsWith('fence:')) return 'fences';
  }
  return 'other';
}

/**
 * Whether `key` (without `mutex:`), which starts with a base of `from` characters, is a syncwheel
 * key of a longer prefix: some `…:sw:` after the base is followed by a whole key of that layout.
 */
export function isNestedKey(key: string, from: number, lock: boolean): boolean {
  for (let i = key.indexOf(':sw:', from); i >= 0; i = key.indexOf(':sw:', i + 1)) {
    const tail = key.slice(i + ':sw:'.length);
    if ((lock ? ANY_LOCK_TAIL : ANY_TAIL).test(tail)) return true;
  }
  return false;
}

function emptyCounts(): Record<PurgeKind, number> {
  return { records: 0, fences: 0, history: 0, locks: 0, membership: 0, log: 0, other: 0 };
}

type Node = Pick<Redis, 'scan' | 'pipeline'>;

/** The masters to scan: every master of a cluster, or the one client. */
function mastersOf(client: Redis | Cluster): Node[] {
  if ((client as Cluster).isCluster) {
    const masters = (client as Cluster).nodes('master');
    if (masters.length === 0) throw new SyncwheelError('the Redis Cluster client knows no master yet (wait for its "ready" event before purging)');
    return masters;
  }
  return [client as Redis];
}

/** Yields the keys of `prefix` on `node` (classified), one SCAN batch at a time. */
async function* batchesOf(node: Node, prefix: string, count: number, nested: { count: number; samples: string[] }): AsyncGenerator<Array<[string, PurgeKind]>> {
  for (const pattern of keyPatterns(prefix)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      const mine: Array<[string, PurgeKind]> = [];
      for (const key of keys) {
        const kind = classifyKey(prefix, key);
        if (kind !== undefined) mine.push([key, kind]);
        else if (nested.samples.length < 10) {
          nested.count++;
          nested.samples.push(key);
        } else nested.count++;
      }
      if (mine.length > 0) yield mine;
    } while (cursor !== '0');
  }
}

/**
 * Counts (dry run, the default) or deletes every key of `options.prefix`, with SCAN + UNLINK in
 * batches, on `client` (an ioredis `Redis`) or on every master of an ioredis `Cluster`.
 *
 * @example
 * const report = await purgePrefix(client, { prefix: 'myapp' });            // counts only
 * await purgePrefix(client, { prefix: 'myapp', dryRun: false });              // deletes
 */
export async function purgePrefix(client: Redis | Cluster, options: PurgeOptions): Promise<PurgeReport> {
  const { prefix } = options;
  assertPurgeablePrefix(prefix);
  const dryRun = options.dryRun ?? true;
  const batch = options.batchSize ?? 500;
  if (!Number.isSafeInteger(batch) || batch < 1 || batch > 100_000) throw new SyncwheelError(`Expected batchSize to be an integer in 1..100000, got ${batch}`);
  const masters = mastersOf(client);
  const counts = emptyCounts();
  const nested = { count: 0, samples: [] as string[] };
  const errors = { count: 0, first: undefined as string | undefined };
  const liveReplicas = await countLive(client, prefix);
  for (const node of masters) {
    // SCAN may return a key twice: a dry run counts each once; UNLINK's reply counts deletions exactly.
    const seen = dryRun ? new Set<string>() : undefined;
    for await (const keys of batchesOf(node, prefix, batch, nested)) {
      if (seen) {
        for (const [key, kind] of keys) if (!seen.has(key)) (seen.add(key), counts[kind]++);
        continue;
      }
      // One UNLINK per key, pipelined: keys of different hash slots never meet in one command (no CROSSSLOT).
      const pipe = node.pipeline();
      for (const [key] of keys) pipe.unlink(key);
      const replies = (await pipe.exec()) ?? [];
      replies.forEach(([error, n], i) => {
        if (error) {
          errors.count++;
          errors.first ??= error.message;
        } else if (Number(n) > 0) counts[keys[i]![1]]++;
      });
    }
  }
  let remaining = 0;
  if (!dryRun) {
    const again = { count: 0, samples: [] as string[] };
    for (const node of masters) for await (const keys of batchesOf(node, prefix, batch, again)) remaining += keys.length;
  }
  const total = PURGE_KINDS.reduce((n, k) => n + counts[k], 0);
  return { prefix, dryRun, masters: masters.length, counts, total, nested, liveReplicas, remaining, errors };
}

/** Members of the prefix's membership set whose heartbeat has not expired (0 when unreadable). */
async function countLive(client: Redis | Cluster, prefix: string): Promise<number> {
  try {
    return await client.zcount(redisKeys(prefix).members, String(Date.now()), '+inf');
  } catch {
    return 0;
  }
}

/**
 * An ioredis `Cluster` seeded with the node of `url` (credentials and TLS taken from it), failing
 * fast: no retries, no reconnection. `ClusterCtor` is ioredis' `Cluster` (passed in, so this module
 * never loads the optional peer). Wait for its `ready` event before {@link purgePrefix}.
 */
export function openCluster(ClusterCtor: typeof Cluster, url: string, timeout: number): Cluster {
  const u = new URL(url);
  const cluster = new ClusterCtor([{ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 6379) }], {
    redisOptions: {
      username: decodeURIComponent(u.username) || undefined,
      password: decodeURIComponent(u.password) || undefined,
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
      connectTimeout: timeout,
      commandTimeout: timeout,
      maxRetriesPerRequest: 0,
    },
    clusterRetryStrategy: () => null,
  });
  cluster.on('error', () => undefined);
  return cluster;
}

/** Quotes `s` for a POSIX shell when it needs it. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The human-readable report (lines), with the command that really deletes after a dry run. */
export function formatPurgeReport(report: PurgeReport, show: (s: string) => string, command: string): string[] {
  const { counts } = report;
  const where = `${report.masters} ${report.masters === 1 ? 'Redis' : 'cluster masters'}`;
  const lines = [
    `${report.dryRun ? 'Dry run: would delete' : 'Deleted'} ${report.total} key(s) of prefix ${show(JSON.stringify(report.prefix))} on ${where}:`,
    ...PURGE_KINDS.map((k) => `  ${k.padEnd(11)} ${counts[k]}`),
  ];
  if (report.nested.count > 0) {
    lines.push(`Left alone: ${report.nested.count} key(s) of longer prefixes nested under this one (e.g. ${show(report.nested.samples[0]!)}); purge those prefixes by name.`);
  }
  if (report.liveReplicas > 0) lines.push(`Warning: ${report.liveReplicas} replica(s) of this prefix heartbeat right now; stop them first or they write keys again.`);
  if (report.errors.count > 0) lines.push(`${report.errors.count} UNLINK(s) failed: ${show(report.errors.first ?? '')}`);
  if (!report.dryRun && report.remaining > 0) lines.push(`${report.remaining} key(s) of the prefix are still there (written meanwhile?); run purge again.`);
  if (report.dryRun) lines.push(report.total > 0 ? `Nothing was deleted. To delete them: ${command} --yes` : 'Nothing to delete.');
  return lines;
}

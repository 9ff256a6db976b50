/**
 * Every Redis key syncwheel uses is built here, and only here.
 *
 * Layout under a host-chosen `prefix` (`P` below is `${prefix}:sw`):
 *
 * | key                     | type   | what                                                                 |
 * |-------------------------|--------|----------------------------------------------------------------------|
 * | `P:schema`              | string | storage schema version ({@link SCHEMA_VERSION})                       |
 * | `P:ids`                 | set    | ids of every stored fabric (what `list()` walks)                      |
 * | `P:rec:<id>`            | hash   | one record: `v` version, `t` fencing token, `d` JSON {schema, definition, state} |
 * | `P:fence:<id>`          | hash   | `version` and `token`: highest ever written for the id; never decreases, survives delete |
 * | `P:members`             | zset   | live replicas of `RedlockSingleFlight` (member -> expiry, Redis time ms) |
 * | `mutex:P:lock:<id>`     | string | the fabric's lock (redis-semaphore adds the `mutex:` in front)        |
 *
 * Fabric ids are the last part of their keys, so any id (including `:`) is unambiguous.
 */

/** Version of the stored record format. Records with a higher version are reported corrupt. */
export const SCHEMA_VERSION = 1;

/** The key names of one prefix. */
export interface RedisKeys {
  /** `${prefix}:sw`: everything syncwheel stores (but the locks) starts with this. */
  readonly base: string;
  readonly schema: string;
  readonly ids: string;
  readonly members: string;
  record(fabricId: string): string;
  fence(fabricId: string): string;
  /** The resource name handed to redis-semaphore for a fabric's lock. */
  lockResource(fabricId: string): string;
  /** The Redis key redis-semaphore stores that lock under. */
  lock(fabricId: string): string;
}

/** Builds the key names for `prefix`. */
export function redisKeys(prefix: string): RedisKeys {
  const base = `${prefix}:sw`;
  return Object.freeze({
    base,
    schema: `${base}:schema`,
    ids: `${base}:ids`,
    members: `${base}:members`,
    record: (id: string) => `${base}:rec:${id}`,
    fence: (id: string) => `${base}:fence:${id}`,
    lockResource: (id: string) => `${base}:lock:${id}`,
    lock: (id: string) => `mutex:${base}:lock:${id}`,
  });
}

/** Glob patterns matching every key of `prefix` (for operators and test cleanup). */
export function keyPatterns(prefix: string): string[] {
  const base = `${prefix}:sw`;
  return [`${escapeGlob(base)}:*`, `mutex:${escapeGlob(base)}:*`];
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

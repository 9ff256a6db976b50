/**
 * Every Redis key syncwheel uses is built here, and only here.
 *
 * Layout (schema 2) under a host-chosen `prefix`. `E` is the prefix with `%`, `{` and `}`
 * percent-encoded (so braces in a prefix never act as a Redis Cluster hash tag), and `B` is
 * `${E}:sw`. `{T}` is the fabric's hash tag: 8 hex digits of a hash of its id, so a fabric's
 * record, fence and lock share one hash slot on Redis Cluster while fabrics spread over slots.
 *
 * | key                     | type   | what                                                                 |
 * |-------------------------|--------|----------------------------------------------------------------------|
 * | `B:schema`              | string | storage schema version ({@link SCHEMA_VERSION})                       |
 * | `B:ids`                 | set    | ids of every stored fabric (what `list()` walks)                      |
 * | `B:log`                 | stream | change log: one entry per definition change or removal (capped)       |
 * | `B:members`             | zset   | live replicas of `RedlockSingleFlight` (member -> expiry, Redis time ms) |
 * | `B:r:{T}:<id>`          | hash   | one record: `v` version, `t` fencing token, `h` definition digest, `d` JSON {schema, definition, state} |
 * | `B:f:{T}:<id>`          | hash   | fence: highest `version` and `token` ever written for the id, `removed` (Redis ms) while a tombstone |
 * | `B:h:{T}:<id>`          | list   | run history: compact entries (`encodeHistoryEntry`), newest first, capped (LTRIM); deleted with the record |
 * | `mutex:B:l:{T}:<id>`    | string | the fabric's lock (redis-semaphore adds the `mutex:` in front)        |
 *
 * Fabric ids are the last part of their keys, so any id (including `:` and braces) is
 * unambiguous. Schema 1 (syncwheel 0.1) used `${prefix}:sw:rec:<id>`, `:fence:<id>` and
 * `mutex:${prefix}:sw:lock:<id>`; {@link legacyKeys} names them for the one-shot migration.
 */

/** Version of the stored data layout. Data with another version is refused (1: run the migration). */
export const SCHEMA_VERSION = 2;

/** The key names of one prefix. */
export interface RedisKeys {
  /** `${encoded prefix}:sw`: everything syncwheel stores (but the locks) starts with this. */
  readonly base: string;
  readonly schema: string;
  readonly ids: string;
  readonly log: string;
  readonly members: string;
  /** The fabric's hash tag, `{xxxxxxxx}`. */
  tag(fabricId: string): string;
  record(fabricId: string): string;
  fence(fabricId: string): string;
  /** The fabric's run history list (same hash slot as its record). */
  history(fabricId: string): string;
  /** The resource name handed to redis-semaphore for a fabric's lock. */
  lockResource(fabricId: string): string;
  /** The Redis key redis-semaphore stores that lock under. */
  lock(fabricId: string): string;
}

/** Percent-encodes `%`, `{` and `}`: the encoded prefix holds no hash tag, and distinct prefixes stay distinct. */
export function encodePrefix(prefix: string): string {
  return prefix.replace(/[%{}]/g, (c) => (c === '%' ? '%25' : c === '{' ? '%7B' : '%7D'));
}

/** Builds the key names for `prefix`. */
export function redisKeys(prefix: string): RedisKeys {
  const base = `${encodePrefix(prefix)}:sw`;
  const tag = (id: string) => `{${hashTag(id)}}`;
  return Object.freeze({
    base,
    schema: `${base}:schema`,
    ids: `${base}:ids`,
    log: `${base}:log`,
    members: `${base}:members`,
    tag,
    record: (id: string) => `${base}:r:${tag(id)}:${id}`,
    fence: (id: string) => `${base}:f:${tag(id)}:${id}`,
    history: (id: string) => `${base}:h:${tag(id)}:${id}`,
    lockResource: (id: string) => `${base}:l:${tag(id)}:${id}`,
    lock: (id: string) => `mutex:${base}:l:${tag(id)}:${id}`,
  });
}

/** The schema-1 (syncwheel 0.1) key names of `prefix`, for the migration. */
export function legacyKeys(prefix: string): { base: string; schema: string; ids: string; record(id: string): string; fence(id: string): string; lock(id: string): string } {
  const base = `${prefix}:sw`;
  return Object.freeze({
    base,
    schema: `${base}:schema`,
    ids: `${base}:ids`,
    record: (id: string) => `${base}:rec:${id}`,
    fence: (id: string) => `${base}:fence:${id}`,
    lock: (id: string) => `mutex:${base}:lock:${id}`,
  });
}

/** Glob patterns matching every key of `prefix` (current and schema-1 layout), for operators, `syncwheel purge` and test cleanup. */
export function keyPatterns(prefix: string): string[] {
  const patterns = new Set<string>();
  for (const base of [`${encodePrefix(prefix)}:sw`, `${prefix}:sw`]) {
    patterns.add(`${escapeGlob(base)}:*`);
    patterns.add(`mutex:${escapeGlob(base)}:*`);
  }
  return [...patterns];
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** 8 hex digits of FNV-1a over the id's UTF-16 code units: stable across versions and processes. */
export function hashTag(id: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * syncwheel/redis: Redis storage and Redlock single-flight for schedulers running in several
 * service replicas. Every public name is listed here (no `export *`).
 */
export { RedisStorage } from './storage.js';
export { migrateRedisData } from './migrate.js';
export type { MigrateRedisDataOptions, MigrateRedisDataResult } from './migrate.js';
export type { RedisStorageClient, RedisStorageOptions } from './storage.js';
export { RedlockSingleFlight, ownerOf } from './single-flight.js';
export type { RedlockClient, RedlockLease, RedlockSingleFlightOptions } from './single-flight.js';
export { ClockSkewError, LockLostError, LockUnavailableError, RedisEvictionWarning } from './errors.js';
export { SCHEMA_VERSION, encodePrefix, hashTag, keyPatterns, legacyKeys, redisKeys } from './keys.js';
export type { RedisKeys } from './keys.js';
export { PURGE_KINDS, PurgePrefixError, assertPurgeablePrefix, classifyKey, purgePrefix } from '../ops/purge.js';
export type { PurgeKind, PurgeOptions, PurgeReport } from '../ops/purge.js';
export { DELETE_SCRIPT, HEARTBEAT_SCRIPT, MIGRATE_RECORD_SCRIPT, WRITE_SCRIPT } from './scripts.js';
export type { LuaScript } from './scripts.js';

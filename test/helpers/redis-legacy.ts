/**
 * Data exactly as syncwheel 0.1 (schema 1) wrote it, for the migration tests: two fabrics (one
 * with braces in its id), the control record under its NUL id, the fence of a deleted fabric, a
 * fence above its record, and one unreadable record.
 */
import { legacyKeys } from '../../src/redis/keys.js';
import { LEGACY_CONTROL_RECORD_ID } from '../../src/ops/control.js';
import { state } from '../storage-contract.js';

/** The calls it needs (ioredis `Redis` or `Cluster`). */
interface LegacyClient {
  set(key: string, value: string): Promise<unknown>;
  hset(key: string, ...fieldsAndValues: string[]): Promise<unknown>;
  sadd(key: string, ...members: string[]): Promise<unknown>;
}

export async function write01(client: LegacyClient, prefix: string): Promise<void> {
  const old = legacyKeys(prefix);
  const doc = (id: string, extra: object = {}) =>
    JSON.stringify({ schema: 1, definition: { id, syncInterval: 60_000, enabled: true, syncTimeout: 0, queue: 'default', ...extra }, state: { ...state(), fencingToken: undefined, status: 'in_sync', lastSyncAt: 5 } });
  await client.set(old.schema, '1');
  for (const [id, v, t] of [['a', '3', '1700000000000002'], ['b:{x}', '7', '1700000000000009']] as const) {
    await client.hset(old.record(id), 'v', v, 't', t, 'd', doc(id));
    await client.hset(old.fence(id), 'version', v, 'token', t);
    await client.sadd(old.ids, id);
  }
  // the control record under its NUL id
  await client.hset(old.record(LEGACY_CONTROL_RECORD_ID), 'v', '4', 't', '0', 'd', doc(LEGACY_CONTROL_RECORD_ID, { enabled: false, metadata: { control: { scheduler: 123, queues: {}, fabrics: {}, syncRequests: {} } } }));
  await client.hset(old.fence(LEGACY_CONTROL_RECORD_ID), 'version', '4', 'token', '0');
  await client.sadd(old.ids, LEGACY_CONTROL_RECORD_ID);
  // a deleted fabric: only its fence is left, with a token above the record's
  await client.hset(old.fence('gone'), 'version', '9', 'token', '1700000000000050');
  // a fence higher than the record (a record re-created then not claimed yet)
  await client.hset(old.fence('a'), 'token', '1700000000000020');
  // unreadable
  await client.hset(old.record('bad'), 'v', '1', 't', '0', 'd', '{oops');
  await client.sadd(old.ids, 'bad');
}

/**
 * One-shot migration of syncwheel 0.1 data (schema 1) to the schema-2 key layout.
 *
 * Schema 1 kept `${prefix}:sw:rec:<id>` (hash `v`, `t`, `d` with `schema: 1`), `:fence:<id>`
 * (`version`, `token`), `:ids` and `:schema` = `1`, with the control record under a NUL id.
 * Schema 2 (see `keys.ts`) puts each fabric's keys in one hash slot, adds a definition digest and
 * a change log, and names the control record `__syncwheel__:control`. Run history (`B:h:{T}:<id>`)
 * is schema 2 only and written by runs: nothing to move (0.1 kept none), and a re-run leaves it
 * alone.
 */
import { InvalidOptionError, StorageError } from '../errors.js';
import { CONTROL_RECORD_ID, LEGACY_CONTROL_RECORD_ID } from '../ops/control.js';
import { SCHEMA_VERSION, legacyKeys, redisKeys } from './keys.js';
import { definitionDigest, isWrongType, parseRecord, wrap } from './record-codec.js';
import { MIGRATE_RECORD_SCRIPT, runScript, type ScriptClient } from './scripts.js';
import type { RedisStorageClient } from './storage.js';

/** Options of {@link migrateRedisData}. */
export interface MigrateRedisDataOptions {
  /** An ioredis `Redis` or `Cluster` client (not closed). */
  client: RedisStorageClient;
  /** The prefix the 0.1 replicas used. */
  prefix: string;
  /**
   * Count what would be moved, write nothing.
   * @default false
   */
  dryRun?: boolean;
}

/** What {@link migrateRedisData} did (or, with `dryRun`, would do). */
export interface MigrateRedisDataResult {
  readonly dryRun: boolean;
  /** The schema version found before (`null`: no schema key). */
  readonly schemaBefore: number | null;
  /** Records moved to the schema-2 layout (the control record included). */
  readonly records: number;
  /** Whether the control record was among them (moved from its NUL id). */
  readonly control: boolean;
  /** Fences moved without a record (deleted fabrics: their tokens never repeat). */
  readonly fences: number;
  /** Records already present in the schema-2 layout (an earlier, interrupted run): kept as they are. */
  readonly alreadyMigrated: number;
  /** Unreadable 0.1 records, left under their old keys (ids listed). */
  readonly unreadable: readonly string[];
  /** Schema-1 keys deleted. */
  readonly deletedKeys: number;
}

interface Conn extends ScriptClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<unknown>;
  del(...keys: string[]): Promise<number>;
  sadd(key: string, ...members: string[]): Promise<number>;
  srem(key: string, ...members: string[]): Promise<number>;
  hmget(key: string, ...fields: string[]): Promise<Array<string | null>>;
  scan(cursor: string, ...args: Array<string | number>): Promise<[string, string[]]>;
  nodes?(role: string): Conn[];
  isCluster?: boolean;
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * Moves a prefix's 0.1 data (schema 1) to schema 2: records and fences (the control record from
 * its NUL id to `__syncwheel__:control`), keeping versions and fencing tokens (a fence keeps the
 * highest of both layouts), then sets the schema to 2 and deletes the old keys. Stop every
 * replica first. Idempotent: a second run (or a run after an interrupted one) moves what is left
 * and changes nothing else. `npx syncwheel migrate --prefix <P>` runs it.
 *
 * @example
 * const result = await migrateRedisData({ client: new Redis(), prefix: 'myapp', dryRun: true });
 */
export async function migrateRedisData(options: MigrateRedisDataOptions): Promise<MigrateRedisDataResult> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object', options);
  const { prefix } = options;
  const client = options.client as unknown as Conn;
  if (client === null || typeof client !== 'object' || typeof client.evalsha !== 'function') throw new InvalidOptionError('client', 'an ioredis client', options.client);
  if (typeof prefix !== 'string' || prefix.length === 0) throw new InvalidOptionError('prefix', 'a non-empty string', prefix);
  const dryRun = options.dryRun ?? false;
  if (typeof dryRun !== 'boolean') throw new InvalidOptionError('dryRun', 'a boolean', dryRun);
  const keys = redisKeys(prefix);
  const old = legacyKeys(prefix);
  try {
    const found = (await client.get(old.schema)) ?? (old.schema === keys.schema ? null : await client.get(keys.schema));
    const schemaBefore = found === null ? null : Number(found);
    if (schemaBefore !== null && !(schemaBefore >= 1 && schemaBefore <= SCHEMA_VERSION)) {
      throw new StorageError('migrate', `the data under ${JSON.stringify(old.base)} has schema version ${found}; this syncwheel migrates 1 to ${SCHEMA_VERSION}`);
    }
    const nodes = client.isCluster === true && typeof client.nodes === 'function' ? client.nodes('master') : [client];
    const recIds = new Set<string>();
    const fenceIds = new Set<string>();
    for (const node of nodes) {
      for (const [kind, ids] of [['rec', recIds], ['fence', fenceIds]] as const) {
        const head = `${old.base}:${kind}:`;
        let cursor = '0';
        do {
          const [next, batch] = await node.scan(cursor, 'MATCH', `${escapeGlob(head)}*`, 'COUNT', 500);
          cursor = next;
          for (const key of batch) if (key.startsWith(head)) ids.add(key.slice(head.length));
        } while (cursor !== '0');
      }
    }
    let records = 0;
    let fences = 0;
    let alreadyMigrated = 0;
    let control = false;
    let deletedKeys = 0;
    const unreadable: string[] = [];
    const moved: string[] = [];
    for (const id of new Set([...recIds, ...fenceIds])) {
      const newId = id === LEGACY_CONTROL_RECORD_ID ? CONTROL_RECORD_ID : id;
      const [fv, ft] = fenceIds.has(id) ? await client.hmget(old.fence(id), 'version', 'token') : [null, null];
      let v: string | null = null;
      let t: string | null = null;
      let d: string | null = null;
      let h = '';
      if (recIds.has(id)) {
        let fields: Array<string | null>;
        try {
          fields = await client.hmget(old.record(id), 'v', 't', 'd');
        } catch (error) {
          if (!isWrongType(error)) throw error;
          unreadable.push(id);
          continue;
        }
        [v, t, d] = [fields[0] ?? null, fields[1] ?? null, fields[2] ?? null];
        const converted = convertDoc(d, id, newId);
        const parsed = converted === null ? { reason: 'unreadable' } : parseRecord(newId, { v, t, d: converted });
        if ('reason' in parsed) {
          unreadable.push(id);
          continue;
        }
        d = converted;
        h = definitionDigest(parsed.definition);
        if (newId !== id) control = true;
      }
      if (d !== null) records++;
      else fences++;
      if (dryRun) continue;
      if (d !== null) await client.sadd(keys.ids, newId); // before the record: the set stays a superset
      const wrote = await runScript(client, MIGRATE_RECORD_SCRIPT, [keys.record(newId), keys.fence(newId)], [d === null ? '' : (v ?? ''), t ?? '', h, d ?? '', fv ?? '', ft ?? '']);
      if (d !== null && Number(wrote) !== 1) alreadyMigrated++;
      moved.push(id);
    }
    if (!dryRun) {
      await client.set(keys.schema, String(SCHEMA_VERSION));
      for (const id of moved) {
        if (recIds.has(id)) deletedKeys += await client.del(old.record(id));
        if (fenceIds.has(id)) deletedKeys += await client.del(old.fence(id));
      }
      if (old.ids === keys.ids) {
        if (moved.includes(LEGACY_CONTROL_RECORD_ID)) await client.srem(keys.ids, LEGACY_CONTROL_RECORD_ID);
      } else {
        deletedKeys += await client.del(old.ids);
        if (old.schema !== keys.schema) deletedKeys += await client.del(old.schema);
      }
    }
    return Object.freeze({ dryRun, schemaBefore, records, control, fences, alreadyMigrated, unreadable: Object.freeze(unreadable), deletedKeys });
  } catch (error) {
    throw wrap('migrate', error);
  }
}

/** A schema-1 document as schema 2 (`null` when it is not a 0.1 document). */
function convertDoc(d: string | null, oldId: string, newId: string): string | null {
  if (d === null) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(d);
  } catch {
    return null;
  }
  if (doc === null || typeof doc !== 'object') return null;
  const { schema, definition, state } = doc as { schema?: unknown; definition?: unknown; state?: unknown };
  if (schema !== 1 && schema !== SCHEMA_VERSION) return null;
  const renamed = oldId !== newId && definition !== null && typeof definition === 'object' && (definition as { id?: unknown }).id === oldId;
  const def = renamed ? { ...(definition as object), id: newId } : definition;
  return JSON.stringify({ schema: SCHEMA_VERSION, definition: def, state });
}

/**
 * The change feed of RedisStorage, backed by the `B:log` stream: one entry `{i: <id>, k: 'd'|'r'}`
 * per create, definition change (the digest `h` differs) or delete, capped with `MAXLEN ~`.
 *
 * The cursor handed to callers is `<entry id>:<entries added up to it>` (the second part is the
 * stream's `entries-added` counter, Redis 7+, empty before). An idle poll is ONE command as Redis
 * counts them (`XINFO STREAM`; a Lua script would count its inner calls too); a poll that finds
 * entries adds one `XRANGE`, bounded by the last id XINFO saw.
 *
 * The cursor is no longer covered (`reset`) when the stream is gone (a cursor other than `0-0`),
 * the cursor is beyond the stream's last id (a rollback), the log added fewer entries than the
 * cursor counts, or entries added after the cursor are missing (trimmed, or a stream re-created
 * after a data loss): every entry added since the cursor must still be there. Without
 * `entries-added` (Redis < 7) a cursor before the first entry counts as trimmed.
 */
import type { ChangePage, StorageChange } from '../storage/types.js';

const CURSOR = /^(\d{1,20})-(\d{1,20}):(\d{0,20})$/;

/** The commands the change log uses (ioredis `Redis` or `Cluster`). */
export interface ChangeLogClient {
  xinfo(...args: Array<string | number>): Promise<unknown>;
  xrange(key: string, start: string, end: string, ...args: Array<string | number>): Promise<Array<[string, string[]]>>;
  xrevrange(key: string, end: string, start: string, ...args: Array<string | number>): Promise<Array<[string, string[]]>>;
  xlen(key: string): Promise<number>;
  xadd(...args: Array<string | number>): Promise<unknown>;
}

type StreamId = readonly [bigint, bigint];

function parseId(id: string): StreamId | undefined {
  const m = /^(\d{1,20})-(\d{1,20})$/.exec(id);
  return m ? [BigInt(m[1]!), BigInt(m[2]!)] : undefined;
}

function cmp(a: StreamId, b: StreamId): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

interface StreamInfo {
  last: string;
  added: number | undefined;
  length: number;
  first: string | undefined;
}

/** Clients whose server refused `XINFO` (renamed or disabled on a managed Redis, ioredis-mock). */
const NO_XINFO = new WeakSet<object>();
const UNSUPPORTED = /unknown command|unsupported command/i;

async function streamInfo(client: ChangeLogClient, key: string): Promise<StreamInfo | undefined> {
  if (NO_XINFO.has(client)) return streamInfoWithoutXinfo(client, key);
  let reply: unknown;
  try {
    reply = await client.xinfo('STREAM', key);
  } catch (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) return undefined;
    if (error instanceof Error && UNSUPPORTED.test(error.message)) {
      NO_XINFO.add(client);
      return streamInfoWithoutXinfo(client, key);
    }
    throw error;
  }
  if (!Array.isArray(reply)) throw new Error(`unexpected XINFO STREAM reply: ${String(reply)}`);
  const info = new Map<string, unknown>();
  for (let i = 0; i + 1 < reply.length; i += 2) info.set(String(reply[i]), reply[i + 1]);
  const first = info.get('first-entry');
  const added = info.get('entries-added');
  return {
    last: String(info.get('last-generated-id')),
    added: added === undefined || added === null ? undefined : Number(added),
    length: Number(info.get('length')),
    first: Array.isArray(first) && first.length > 0 ? String(first[0]) : undefined,
  };
}

/**
 * The same facts without `XINFO` (three commands instead of one; no `entries-added`, so a cursor
 * before the first entry counts as trimmed, as on Redis < 7).
 */
async function streamInfoWithoutXinfo(client: ChangeLogClient, key: string): Promise<StreamInfo | undefined> {
  const [lastEntries, firstEntries, length] = await Promise.all([client.xrevrange(key, '+', '-', 'COUNT', 1), client.xrange(key, '-', '+', 'COUNT', 1), client.xlen(key)]);
  if (length === 0 && lastEntries.length === 0) return undefined;
  const last = lastEntries[0]?.[0];
  return { last: last ?? '0-0', added: undefined, length: Number(length), first: firstEntries[0]?.[0] };
}

function page(cursor: string, count: number | undefined, changes: StorageChange[], reset: boolean, more = false): ChangePage {
  return Object.freeze({ cursor: `${cursor}:${count ?? ''}`, changes: Object.freeze(changes), reset, ...(more ? { more: true } : {}) });
}

/** Reads one page of changes after `cursor` (null, or a cursor not handed out here: `reset`). */
export async function readChanges(client: ChangeLogClient, logKey: string, cursor: string | null, pageSize: number): Promise<ChangePage> {
  const m = cursor === null ? null : CURSOR.exec(cursor);
  const info = await streamInfo(client, logKey);
  if (info === undefined) {
    // No stream: nothing was ever logged (cursor 0-0), or it was lost.
    return m !== null && m[1] === '0' && m[2] === '0' ? page('0-0', m[3] ? Number(m[3]) : 0, [], false) : page('0-0', 0, [], true);
  }
  const reset = () => page(info.last, info.added, [], true);
  const last = parseId(info.last);
  if (m === null || last === undefined) return reset();
  const cur: StreamId = [BigInt(m[1]!), BigInt(m[2]!)];
  const curId = `${m[1]}-${m[2]}`;
  const curN = m[3] === '' ? undefined : Number(m[3]);
  if (cmp(cur, last) > 0) return reset(); // rolled back behind the cursor
  if (info.added !== undefined && curN !== undefined && info.added < curN) return reset();
  const first = info.first === undefined ? undefined : parseId(info.first);
  if (first !== undefined && cmp(first, cur) > 0) {
    if (info.added !== undefined && curN !== undefined) {
      if (info.length !== info.added - curN) return reset(); // trimmed past the cursor, or re-created
    } else if (curId !== '0-0') return reset();
  }
  if (cmp(cur, last) === 0) return page(curId, curN ?? info.added, [], false);
  const entries = await client.xrange(logKey, `${cur[0]}-${cur[1] + 1n}`, info.last, 'COUNT', pageSize + 1);
  const more = entries.length > pageSize;
  const taken = entries.slice(0, pageSize);
  if (!more && info.added !== undefined && curN !== undefined && taken.length !== info.added - curN) return reset();
  const changes: StorageChange[] = [];
  for (const [, fields] of taken) {
    let id: string | undefined;
    let kind: string | undefined;
    for (let j = 0; j + 1 < fields.length; j += 2) {
      if (fields[j] === 'i') id = fields[j + 1];
      else if (fields[j] === 'k') kind = fields[j + 1];
    }
    if (id !== undefined && (kind === 'd' || kind === 'r')) changes.push(Object.freeze({ id, kind: kind === 'r' ? 'removed' : 'defined' }));
  }
  const lastTaken = taken.length > 0 ? taken[taken.length - 1]![0] : curId;
  return page(lastTaken, curN === undefined ? undefined : curN + taken.length, changes, false, more);
}

/** Appends one entry in its own command (Redis Cluster: the log lives in another slot than the record). */
export async function appendChange(client: Pick<ChangeLogClient, 'xadd'>, logKey: string, id: string, kind: 'defined' | 'removed', cap: number): Promise<void> {
  await client.xadd(logKey, 'MAXLEN', '~', cap, '*', 'i', id, 'k', kind === 'removed' ? 'r' : 'd');
}

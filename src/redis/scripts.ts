import { createHash } from 'node:crypto';

/**
 * The Lua scripts syncwheel runs on Redis. Each one is atomic; each starts with a header
 * saying what KEYS, ARGV and the reply are. Numbers travel as decimal strings (`%d`), so
 * versions and tokens up to 2^53 keep every digit.
 *
 * No script needs `cjson`: the fencing token lives in its own hash field, so the scripts never
 * parse the JSON document (and they run on ioredis-mock's Lua as well as on Redis).
 */

/** A script with its SHA-1, for EVALSHA. */
export interface LuaScript {
  readonly name: string;
  readonly numberOfKeys: number;
  readonly lua: string;
  readonly sha: string;
}

function script(name: string, numberOfKeys: number, lua: string): LuaScript {
  return Object.freeze({ name, numberOfKeys, lua, sha: createHash('sha1').update(lua).digest('hex') });
}

/**
 * WRITE: compare-and-set of one fabric record, with the never-decreasing fence counter.
 *
 * KEYS[1] record hash `P:rec:<id>`   KEYS[2] fence hash `P:fence:<id>`
 * KEYS[3] id set `P:ids`             KEYS[4] schema string `P:schema`
 * ARGV[1] mode: `create` (must not exist), `update` (version must equal ARGV[2]),
 *         `replace` (overwrite an unreadable record, only if it is still exactly what was read:
 *         ARGV[2] = its `v` field, ARGV[6] = its `d` field, or ARGV[2] = `type:<t>` for a key of
 *         the wrong Redis type)
 * ARGV[2] expected version (update) / observed `v` (replace); ignored for create
 * ARGV[3] JSON document {schema, definition, state} (the token is not read from it)
 * ARGV[4] fencing token of the new state
 * ARGV[5] fabric id (for the id set)       ARGV[6] observed `d` (replace only)
 * ARGV[7] schema version
 *
 * A create or replace raises the token to the fence counter (a re-created fabric never reuses
 * an old token); an update whose token is below the counter is refused.
 *
 * Returns {1, version, token} on success; on conflict {0} when no record exists, {0, v, t, d}
 * for the current hash, or {0, '', '', '', type} for a key of another type.
 */
export const WRITE_SCRIPT = script(
  'write',
  4,
  `
local rec, fence, ids, schemaKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local mode, expected, doc, token, id, observedDoc, schema = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
local rtype = redis.call('TYPE', rec)
if type(rtype) == 'table' then rtype = rtype['ok'] end
local fenceVersion = tonumber(redis.call('HGET', fence, 'version') or '0') or 0
local fenceToken = tonumber(redis.call('HGET', fence, 'token') or '0') or 0
local curV, curT, curD
if rtype == 'hash' then
  curV = redis.call('HGET', rec, 'v')
  curT = redis.call('HGET', rec, 't')
  curD = redis.call('HGET', rec, 'd')
end
local function conflict()
  if rtype == 'none' then return {0} end
  if rtype ~= 'hash' then return {0, '', '', '', rtype} end
  return {0, curV or '', curT or '', curD or ''}
end
local base = fenceVersion
if mode == 'create' then
  if rtype ~= 'none' then return conflict() end
  if fenceToken > token then token = fenceToken end
elseif mode == 'update' then
  if rtype ~= 'hash' or curV ~= expected then return conflict() end
  if token < fenceToken then return conflict() end
  local n = tonumber(curV) or 0
  if n > base then base = n end
elseif mode == 'replace' then
  if rtype == 'none' then return conflict() end
  if rtype == 'hash' then
    if (curV or '') ~= expected or (curD or '') ~= observedDoc then return conflict() end
    local n = tonumber(curV) or 0
    if n > base then base = n end
  elseif expected ~= ('type:' .. rtype) then
    return conflict()
  end
  redis.call('DEL', rec)
  if fenceToken > token then token = fenceToken end
else
  return redis.error_reply('syncwheel: unknown write mode ' .. tostring(mode))
end
if token > 0 and redis.call('HEXISTS', fence, 'token') == 0 then
  -- First token of this id in this Redis (or its fence counter was lost: Redis restarted empty,
  -- key evicted): start at Redis time in ms x 1000, above any token handed out before the loss.
  local now = redis.call('TIME')
  local seed = (tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)) * 1000
  if seed > token then token = seed end
end
local version = string.format('%d', base + 1)
local tok = string.format('%d', token)
redis.call('HSET', rec, 'v', version, 't', tok, 'd', doc)
redis.call('HSET', fence, 'version', version)
if token > fenceToken then redis.call('HSET', fence, 'token', tok) end
redis.call('SADD', ids, id)
if not redis.call('GET', schemaKey) then redis.call('SET', schemaKey, schema) end
return {1, version, tok}
`,
);

/**
 * DELETE: removes one fabric record; its fence counter stays.
 *
 * KEYS[1] record hash `P:rec:<id>`   KEYS[2] fence hash `P:fence:<id>`   KEYS[3] id set `P:ids`
 * ARGV[1] expected version, or '' for "whatever it is"   ARGV[2] fabric id
 *
 * Returns 1 when a record was deleted, 0 when there was none or its version did not match.
 */
export const DELETE_SCRIPT = script(
  'delete',
  3,
  `
local rec, fence, ids = KEYS[1], KEYS[2], KEYS[3]
local expected, id = ARGV[1], ARGV[2]
local rtype = redis.call('TYPE', rec)
if type(rtype) == 'table' then rtype = rtype['ok'] end
if rtype == 'none' then
  redis.call('SREM', ids, id)
  return 0
end
local curV, curT
if rtype == 'hash' then
  curV = redis.call('HGET', rec, 'v')
  curT = redis.call('HGET', rec, 't')
end
if expected ~= '' and curV ~= expected then return 0 end
local v, t = tonumber(curV or ''), tonumber(curT or '')
if v and v > (tonumber(redis.call('HGET', fence, 'version') or '0') or 0) then redis.call('HSET', fence, 'version', string.format('%d', v)) end
if t and t > (tonumber(redis.call('HGET', fence, 'token') or '0') or 0) then redis.call('HSET', fence, 'token', string.format('%d', t)) end
redis.call('DEL', rec)
redis.call('SREM', ids, id)
return 1
`,
);

/**
 * HEARTBEAT: refreshes one replica's membership and returns the live members, using Redis'
 * clock so replicas with skewed clocks still agree on who is alive.
 *
 * KEYS[1] members zset `P:members`
 * ARGV[1] member id   ARGV[2] membership TTL, ms   ARGV[3] '1' to leave instead of refresh
 *
 * Returns the live member ids (expiry > now), in any order.
 */
export const HEARTBEAT_SCRIPT = script(
  'heartbeat',
  1,
  `
local key, member, ttl, leave = KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now))
if leave == '1' then
  redis.call('ZREM', key, member)
else
  redis.call('ZADD', key, string.format('%d', now + ttl), member)
  redis.call('PEXPIRE', key, string.format('%d', ttl * 4))
end
return redis.call('ZRANGE', key, 0, -1)
`,
);

/** Minimal client surface the scripts need (ioredis `Redis`, `Cluster` or ioredis-mock). */
export interface ScriptClient {
  evalsha(sha: string, numberOfKeys: number, ...args: Array<string | number>): Promise<unknown>;
  eval(lua: string, numberOfKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/** Runs a script by SHA, loading it with EVAL when Redis does not know it yet. */
export async function runScript(client: ScriptClient, s: LuaScript, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
  try {
    return await client.evalsha(s.sha, s.numberOfKeys, ...keys, ...args);
  } catch (error) {
    if (error instanceof Error && /NOSCRIPT/i.test(error.message)) return client.eval(s.lua, s.numberOfKeys, ...keys, ...args);
    throw error;
  }
}

/**
 * `syncwheel migrate` against the real Redis: 0.1 data (schema 1) written by `write01`, a dry
 * run that changes nothing, `--yes` that migrates, a second run with nothing to do, the command
 * RedisStorage's refusal names, and bad usage.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { main } from '../../src/cli.js';
import { CONTROL_RECORD_ID } from '../../src/ops/control.js';
import { keyPatterns, legacyKeys } from '../../src/redis/keys.js';
import { RedisStorage } from '../../src/redis/storage.js';
import { REDIS_URL, cleanupPrefix, randomPrefix, realClient } from '../helpers/redis.js';
import { write01 } from '../helpers/redis-legacy.js';
import { cleanupClusterPrefix, startOwnCluster } from '../helpers/redis-cluster.js';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = [process.execPath, '--import', 'tsx', join(ROOT, 'src/cli.ts')];

/** Runs a shell command line (the CLI as `syncwheel`, the way a user types it) in the repository. */
function sh(line: string, env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', line], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** Runs the CLI as a user would in development (`npx tsx src/cli.ts …`). */
function cli(args: string[], env: Record<string, string> = {}) {
  return sh([...CLI, ...args].map(quote).join(' '), env);
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The CLI in-process (same main() as the bin), for the usage checks. */
async function run(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { out: (x) => (out += `${x}\n`), err: (x) => (err += `${x}\n`), env: {}, isTTY: false });
  return { code, out, err };
}

const client = realClient();
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await cleanupPrefix(client, p);
  client.disconnect();
});

function prefix(tag: string, suffix = ''): string {
  const p = `${randomPrefix(tag)}${suffix}`;
  prefixes.push(p);
  return p;
}

/** Every key of `p` (both layouts) with its type and value, sorted: a snapshot to compare. */
async function snapshot(c: Redis, p: string): Promise<string[]> {
  const keys = new Set<string>();
  for (const pattern of keyPatterns(p)) {
    let cursor = '0';
    do {
      const [next, batch] = await c.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      for (const k of batch) keys.add(k);
    } while (cursor !== '0');
  }
  const rows: string[] = [];
  for (const key of [...keys].sort()) {
    const type = await c.type(key);
    const value = type === 'hash' ? await c.hgetall(key) : type === 'set' ? (await c.smembers(key)).sort() : type === 'string' ? await c.get(key) : type;
    rows.push(`${JSON.stringify(key)} ${type} ${JSON.stringify(value)}`);
  }
  return rows;
}

describe('syncwheel migrate', () => {
  it('dry run reports per kind and changes nothing; --yes migrates; a second run has nothing to do', async () => {
    const p = prefix('mig-cli');
    await write01(client, p);
    const before = await snapshot(client, p);
    expect(before.length).toBeGreaterThanOrEqual(10);
    const base = ['--redis', REDIS_URL, '--prefix', p];

    const dry = await cli(['migrate', ...base]);
    expect(dry).toMatchObject({ code: 0, err: '' });
    expect(dry.out).toBe(
      [
        `Dry run: would migrate the syncwheel 0.1 data (schema 1) of prefix "${p}" to schema 2:`,
        '  records     3 (the control record included)',
        '  fences      1 (of deleted fabrics)',
        `Unreadable: 1 0.1 record(s) would stay under their old keys (${p}:sw:rec:<id>), not migrated: "bad"`,
        `Nothing was changed. Stop every replica of the prefix, then migrate: syncwheel migrate --prefix ${p} --redis ${REDIS_URL} --yes`,
        '',
      ].join('\n'),
    );
    const json = await cli(['migrate', ...base, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toEqual({ prefix: p, dryRun: true, schemaBefore: 1, records: 3, control: true, fences: 1, alreadyMigrated: 0, unreadable: ['bad'], deletedKeys: 0 });
    expect(await snapshot(client, p)).toEqual(before);
    await expect(new RedisStorage({ client, prefix: p }).list()).rejects.toThrow(/syncwheel 0\.1/);

    const done = await cli(['migrate', ...base, '--yes']);
    expect(done).toMatchObject({ code: 0, err: '' });
    const lines = done.out.trimEnd().split('\n');
    expect(lines.slice(0, 4)).toEqual([
      `Migrated the syncwheel 0.1 data (schema 1) of prefix "${p}" to schema 2:`,
      '  records     3 (the control record included)',
      '  fences      1 (of deleted fabrics)',
      '  kept        0 (already in the new layout: an earlier, interrupted run)',
    ]);
    expect(lines[4]).toMatch(/^ {2}deleted {5}(\d+) schema-1 key\(s\)$/);
    expect(Number(/(\d+)/.exec(lines[4]!)![1])).toBeGreaterThanOrEqual(7);
    expect(lines[5]).toBe(`Unreadable: 1 0.1 record(s) stay under their old keys (${p}:sw:rec:<id>), not migrated: "bad"`);
    expect(lines).toHaveLength(6);

    const storage = new RedisStorage({ client, prefix: p });
    const { records, corrupt } = await storage.list();
    expect(corrupt).toEqual([]);
    expect(records.map((r) => r.definition.id).sort()).toEqual([CONTROL_RECORD_ID, 'a', 'b:{x}'].sort());
    expect(await storage.get('a')).toMatchObject({ version: 3, state: { status: 'in_sync', lastSyncAt: 5, fencingToken: 1700000000000002 } });
    expect(await storage.get('b:{x}')).toMatchObject({ version: 7, definition: { id: 'b:{x}', syncInterval: 60_000 } });
    // the CLI reads the migrated deployment too, the 0.1 control record (every scheduler paused) included
    const status = await cli(['status', ...base]);
    expect(status.out).toMatch(/^a {7}default {2}\S+ \(paused\)/m);
    expect(status.out).toContain('2 fabric(s) under prefix');
    expect(status.out).toContain('ALL SCHEDULERS PAUSED');

    for (const again of [['migrate', ...base], ['migrate', ...base, '--yes']]) {
      const second = await run(again);
      expect(second).toMatchObject({ code: 0, err: '' });
      expect(second.out.split('\n')[0]).toBe(`Nothing to migrate: the data of prefix "${p}" is at schema 2 already.`);
      expect(second.out).not.toContain('syncwheel migrate');
    }
    expect(JSON.parse((await run(['migrate', ...base, '--json', '--yes'])).out)).toMatchObject({ records: 0, fences: 0, deletedKeys: 0, schemaBefore: 2 });
  });

  it('the command RedisStorage names when it finds 0.1 data runs as written (quoted prefix, dry run, then --yes)', async () => {
    const p = prefix('mig-msg', ` it's {odd}`);
    await write01(client, p);
    const refusal = await new RedisStorage({ client, prefix: p }).list().then(
      () => '',
      (e: Error) => e.message,
    );
    const named = /`(npx syncwheel migrate [^`]*)`/.exec(refusal)?.[1];
    expect(named).toBeDefined();
    expect(named).toContain('--redis <url>');
    // the line as a user types it: npx syncwheel → the CLI from source, <url> → the Redis URL
    const line = named!.replace('npx syncwheel', CLI.map(quote).join(' ')).replace('<url>', REDIS_URL);
    const dry = await sh(line);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`Dry run: would migrate the syncwheel 0.1 data (schema 1) of prefix ${JSON.stringify(p)} to schema 2:`);
    // the command the dry run prints (with --yes) is a shell line too
    const printed = /then migrate: (syncwheel migrate .*)$/m.exec(dry.out)![1]!;
    expect(printed).toBe(`syncwheel migrate --prefix ${quote(p)} --redis ${REDIS_URL} --yes`);
    const done = await sh(printed.replace('syncwheel', CLI.map(quote).join(' ')));
    expect(done.code).toBe(0);
    expect(done.out).toContain('records     3');
    expect((await new RedisStorage({ client, prefix: p }).list()).records).toHaveLength(3);
  });

  it('reports a prefix without syncwheel data as nothing to do, and a failed migration with exit 1', async () => {
    const empty = await run(['migrate', '--redis', REDIS_URL, '--prefix', randomPrefix('mig-none')]);
    expect(empty).toMatchObject({ code: 0, err: '' });
    expect(empty.out).toMatch(/^Nothing to migrate: no syncwheel data under prefix "swtest:mig-none:[0-9a-f]+" \(check --prefix and the database in --redis\)\.\n$/);
    const p = prefix('mig-future');
    await client.set(legacyKeys(p).schema, '9');
    const future = await run(['migrate', '--redis', REDIS_URL, '--prefix', p, '--yes']);
    expect(future.code).toBe(1);
    expect(future.out).toBe('');
    expect(future.err).toMatch(/^syncwheel: Storage migrate failed: the data under ".*" has schema version 9; this syncwheel migrates 1 to 2 \(migrate is idempotent: run it again to move what is left\)\n$/);
  });

  it('on a Redis Cluster (--redis names one node) migrates the data of every master', { timeout: 120_000 }, async () => {
    const cluster = await startOwnCluster();
    const c = cluster.client();
    const p = `${randomPrefix('mig-cluster')}{p}`;
    try {
      await write01(c, p);
      const args = ['migrate', '--redis', `redis://127.0.0.1:${cluster.ports[1]}`, '--prefix', p];
      const dry = await run(args);
      expect(dry).toMatchObject({ code: 0, err: '' });
      expect(dry.out).toContain('  records     3 (the control record included)');
      const done = await run([...args, '--yes', '--json']);
      expect(done).toMatchObject({ code: 0, err: '' });
      expect(JSON.parse(done.out)).toMatchObject({ dryRun: false, records: 3, control: true, fences: 1, unreadable: ['bad'] });
      const { records } = await new RedisStorage({ client: c, prefix: p }).list();
      expect(records.map((r) => r.definition.id).sort()).toEqual([CONTROL_RECORD_ID, 'a', 'b:{x}'].sort());
      expect((await run(args)).out).toMatch(/^Nothing to migrate: the data of prefix .* is at schema 2 already\./);
      expect(await run([...args.slice(0, 2), `redis://127.0.0.1:${cluster.ports[0]}/1`, ...args.slice(3)])).toMatchObject({ code: 2, err: expect.stringMatching(/has no database 1: ERR SELECT is not allowed in cluster mode/) }); // SELECT fails first
    } finally {
      await cleanupClusterPrefix(c, p).catch(() => undefined);
      await cluster.stop();
    }
  });

  it('refuses bad usage with exit 2 and one line saying why', async () => {
    const oneLine = (r: { code: number; out: string; err: string }) => {
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
      return r.err;
    };
    expect(oneLine(await run(['migrate', '--redis', REDIS_URL]))).toMatch(/^syncwheel: missing --prefix <prefix> \(or SYNCWHEEL_PREFIX\) \(see syncwheel --help\)$/m);
    expect(oneLine(await run(['migrate', '--prefix', 'p']))).toMatch(/missing --redis <url>/);
    expect(oneLine(await run(['migrate', 'extra', '--redis', REDIS_URL, '--prefix', 'p']))).toMatch(/unexpected argument "extra"/);
    expect(oneLine(await run(['migrate', '--repair', '--redis', REDIS_URL, '--prefix', 'p']))).toMatch(/--repair goes with check/);
    expect(oneLine(await run(['migrate', '--all', '--redis', REDIS_URL, '--prefix', 'p']))).toMatch(/--queue and --all go with pause and resume/);
    expect(oneLine(await run(['migrate', '--force', '--redis', REDIS_URL, '--prefix', 'p']))).toMatch(/Unknown option '--force'/);
    expect(oneLine(await run(['status', '--yes', '--redis', REDIS_URL, '--prefix', 'p']))).toMatch(/--yes goes with purge and migrate/);
    const spawned = await cli(['migrate', '--yes', '--redis', 'http://127.0.0.1:6379', '--prefix', 'p']);
    expect(spawned.code).toBe(2);
    expect(spawned.err).toMatch(/^syncwheel: Expected --redis to be a redis:\/\/ or rediss:\/\/ URL/);
    expect((await run(['--help'])).out).toMatch(/^ {2}migrate \[--yes\] +move syncwheel 0\.1 data/m);
  });
});

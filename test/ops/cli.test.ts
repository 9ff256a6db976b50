import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createScheduler, initialState, normalizeFabric } from '../../src/index.js';
import { RedisStorage } from '../../src/redis/index.js';
import { main } from '../../src/cli.js';
import { REDIS_URL, randomPrefix, redisSuite } from '../helpers/redis.js';
import { until } from '../helpers/wait.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Runs the CLI as a user would in development (`npx tsx src/cli.ts …`). */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, out, err, ms: performance.now() - started }));
  });
}

const { client, prefixes, schedulers } = redisSuite();

async function deployment() {
  const prefix = randomPrefix('cli');
  prefixes.push(prefix);
  const runs: Array<{ id: string; trigger: string }> = [];
  const scheduler = createScheduler({
    storage: new RedisStorage({ client, prefix }),
    housekeepingInterval: 100,
    retry: false,
    queues: { git: {} },
    executor: (f, ctx) => {
      runs.push({ id: f.id, trigger: ctx.trigger });
      if (f.id === 'broken') throw new Error('boom \x1b[31mred\x1b[0m');
    },
  });
  schedulers.push(scheduler);
  await scheduler.upsertFabric({ id: 'dc1', syncInterval: 'PT1H' });
  await scheduler.upsertFabric({ id: 'repo', syncInterval: 'PT1H', queue: 'git' });
  await scheduler.upsertFabric({ id: 'broken', syncInterval: 'PT1H' });
  await scheduler.start();
  await until(() => runs.length >= 3);
  await until(async () => (await scheduler.listFabrics()).every((f) => f.status !== 'syncing'));
  return { prefix, scheduler, runs };
}

describe('syncwheel CLI', () => {
  it('refuses bad usage with exit code 2 and says why', async () => {
    // one real spawn, the rest in-process through the same main()
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/^syncwheel: missing command/);
    expect(none.err).toContain('Usage: syncwheel <command>');
    const run = async (args: string[]) => {
      let out = '';
      let err = '';
      const code = await main(args, { out: (x) => (out += `${x}\n`), err: (x) => (err += `${x}\n`), env: {}, isTTY: false });
      return { code, out, err };
    };
    // past the missing command, every bad flag value is one line on stderr, exit 2
    const oneLine = (r: { code: number; out: string; err: string }) => {
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
      return r.err;
    };
    expect(oneLine(await run(['status', '--redis', 'redis://[bad', '--prefix', 'p']))).toMatch(/^syncwheel: Expected --redis to be a redis:\/\/ or rediss:\/\/ URL \(not a valid URL\), got "redis:\/\/\[bad"/);
    expect(oneLine(await run(['status', '--redis', 'redis://127.0.0.1:6379/zero', '--prefix', 'p']))).toMatch(/the path must be a database number/);
    expect(oneLine(await run(['status', '--redis', 'redis://127.0.0.1:99999', '--prefix', 'p']))).toMatch(/Expected --redis/);
    expect(oneLine(await run(['status', '--redis', REDIS_URL, '--prefix', 'p', '--timeout', '1.5']))).toMatch(/Expected --timeout to be a positive integer/);
    expect(oneLine(await run(['status', '--redis', REDIS_URL, '--prefix', 'p', '--timeout', '0']))).toMatch(/Expected --timeout/);
    expect(oneLine(await run(['pause', '--queue', '', '--redis', REDIS_URL, '--prefix', 'p']))).toMatch(/Expected --queue to be a queue name/);
    expect(oneLine(await run(['status', '--redis', REDIS_URL, '--prefix', 'p', '--colour']))).toMatch(/Unknown option '--colour'/);
    expect(oneLine(await run(['status', '--redis', `${REDIS_URL}/9999`, '--prefix', 'p']))).toMatch(/^syncwheel: Redis at .* has no database 9999: ERR DB index is out of range/);
    expect(await run(['status', '--prefix', 'p'])).toMatchObject({ code: 2, err: expect.stringMatching(/missing --redis/) });
    expect(await run(['status', '--redis', REDIS_URL])).toMatchObject({ code: 2, err: expect.stringMatching(/missing --prefix/) });
    expect(await run(['status', '--redis', REDIS_URL, '--prefix', 'p', '--colour'])).toMatchObject({ code: 2, err: expect.stringMatching(/Unknown option '--colour'/) });
    expect((await run(['frobnicate', '--redis', REDIS_URL, '--prefix', 'p'])).err).toMatch(/unknown command "frobnicate"/);
    expect((await run(['status', '--redis', 'http://x', '--prefix', 'p'])).err).toMatch(/Expected --redis to be a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/x"/);
    expect((await run(['status', '--redis', REDIS_URL, '--prefix', 'p', '--timeout', 'soon'])).err).toMatch(/Expected --timeout to be a positive integer/);
    expect((await run(['sync', '--redis', REDIS_URL, '--prefix', 'p'])).err).toMatch(/sync needs exactly one fabric id/);
    expect((await run(['pause', '--queue', 'a', '--all', '--redis', REDIS_URL, '--prefix', 'p'])).code).toBe(2);
    expect((await run(['status', '--repair', '--redis', REDIS_URL, '--prefix', 'p'])).err).toMatch(/--repair goes with check/);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('Exit codes: 0 ok; 1 trouble found');
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(await run(['--version'])).toMatchObject({ code: 0, out: `${pkg.version}\n` });
  });

  it('exits 3 promptly with a clear message when Redis cannot be reached', async () => {
    const baseline = await cli(['--version']); // the cost of starting node + tsx, which the bounds below add to
    const r = await cli(['status', '--redis', 'redis://user:secret@127.0.0.1:1', '--prefix', 'p', '--timeout', '5000']);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^syncwheel: cannot reach Redis at redis:\/\/\*\*\*@127\.0\.0\.1:1: .*ECONNREFUSED[^\n]*\n$/);
    expect(r.err).not.toContain('secret');
    expect(r.ms - baseline.ms).toBeLessThan(1500); // a refused port: no waiting for --timeout, no lingering socket
  });

  it('--timeout bounds the connection to a server that accepts but never answers', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => (sockets.add(socket), socket.on('close', () => sockets.delete(socket))));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const baseline = await cli(['--version']);
      const r = await cli(['status', '--redis', `redis://127.0.0.1:${port}`, '--prefix', 'p', '--timeout', '700']);
      expect(r.code).toBe(3);
      expect(r.err).toBe(`syncwheel: cannot reach Redis at redis://127.0.0.1:${port}: no answer within 700 ms (--timeout)\n`);
      // It waited for --timeout: the whole process took at least that (not measured against the
      // baseline, whose start-up alone may take seconds on a busy machine).
      expect(r.ms).toBeGreaterThan(690);
      // Wide: the machine may be busy with other suites; the bug was several times the timeout.
      expect(r.ms - baseline.ms).toBeLessThan(700 + 3000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('a prefix with no syncwheel data and an unknown queue are errors (exit 1), not empty successes', async () => {
    const empty = await cli(['status', '--redis', REDIS_URL, '--prefix', randomPrefix('cli-none')]);
    expect(empty.code).toBe(1);
    expect(empty.err).toMatch(/^syncwheel: no syncwheel data under prefix "swtest:cli-none:[0-9a-f]+" in database 0 of redis:\/\/.*\(check --prefix and the database in --redis\)\n$/);
    expect((await cli(['pause', '--all', '--redis', REDIS_URL, '--prefix', randomPrefix('cli-none')])).code).toBe(1);
    const prefix = randomPrefix('cli-queue');
    prefixes.push(prefix);
    const storage = new RedisStorage({ client, prefix });
    await storage.write('fab', { definition: normalizeFabric({ id: 'fab', syncInterval: 60_000, queue: 'git' }, { syncTimeout: 0 }), state: initialState() }, null);
    const base = ['--redis', REDIS_URL, '--prefix', prefix];
    const nope = await cli(['pause', '--queue', 'nope', ...base]);
    expect(nope.code).toBe(1);
    expect(nope.err).toBe('syncwheel: unknown queue "nope": no fabric under this prefix uses it (queues in use: git)\n');
    expect((await cli(['resume', '--queue', 'nope', ...base])).code).toBe(1);
    expect((await cli(['pause', '--queue', 'git', ...base])).code).toBe(0);
    // a paused queue can always be resumed, even once no fabric uses it any more
    await storage.write('fab', { definition: normalizeFabric({ id: 'fab', syncInterval: 60_000 }, { syncTimeout: 0 }), state: initialState() }, (await storage.get('fab'))!.version);
    expect((await cli(['pause', '--queue', 'git', ...base])).code).toBe(1);
    expect((await cli(['resume', '--queue', 'git', ...base])).code).toBe(0);
  });

  it("sync of a fabric that is mid-run says a follow-up run is queued; a second sync says it coalesced", async () => {
    const prefix = randomPrefix('cli-midrun');
    prefixes.push(prefix);
    const storage = new RedisStorage({ client, prefix });
    const t = Date.now() - 5_000;
    await storage.write('busy', { definition: normalizeFabric({ id: 'busy', syncInterval: 60_000 }, { syncTimeout: 0 }), state: { ...initialState(), status: 'syncing', lastAttemptAt: t, anchorAt: t, lastSlotAt: t } }, null);
    const base = ['--redis', REDIS_URL, '--prefix', prefix];
    const r = await cli(['sync', 'busy', ...base]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Sync of busy queued: it is syncing now \(since \d+s ago\); one follow-up run starts when that run ends\.\n$/);
    expect((await storage.get('busy'))!.state.requestedAt).toBeTypeOf('number');
    const again = await cli(['sync', 'busy', ...base]);
    expect(again.out).toMatch(/^Sync of busy was already requested \(\d+s ago\) and not yet served: one run serves both\.\n$/);
    const json = await cli(['sync', 'busy', '--json', ...base]);
    expect(JSON.parse(json.out)).toMatchObject({ requested: 'busy', syncing: true, result: 'coalesced', pendingSince: expect.any(Number) });
  });

  it('status prints the fabric table (colour only when asked or on a terminal) and JSON with --json', async () => {
    const { prefix, scheduler } = await deployment();
    const base = ['--redis', REDIS_URL, '--prefix', prefix];
    const plain = await cli(['status', ...base]);
    expect(plain.code).toBe(0);
    const lines = plain.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^FABRIC\s+QUEUE\s+STATUS\s+SCHEDULE\s+LAST SYNC\s+NEXT SYNC\s+FAIL\s+LAST ERROR$/);
    expect(lines.slice(1, 4).map((l) => l.split(/\s{2,}/).slice(0, 3))).toEqual([['broken', 'default', 'error'], ['dc1', 'default', 'in_sync'], ['repo', 'git', 'in_sync']]);
    expect(plain.out).not.toContain('\x1b[');
    // an error message with an escape sequence is shown escaped, never interpreted by the terminal
    expect(lines[1]).toContain('boom \\u001b[31mred\\u001b[0m');
    expect(lines.at(-1)).toBe(`3 fabric(s) under prefix ${prefix}`);
    const coloured = await cli(['status', ...base], { FORCE_COLOR: '1' });
    expect(coloured.out).toContain('\x1b[32min_sync');
    expect(coloured.out).toContain('\x1b[31merror');
    const json = await cli(['status', ...base, '--json']);
    const parsed = JSON.parse(json.out) as { fabrics: Array<{ id: string; status: string; queue: string; lastError: string | null }> };
    expect(parsed.fabrics.map((f) => [f.id, f.status, f.queue])).toEqual([['broken', 'error', 'default'], ['dc1', 'in_sync', 'default'], ['repo', 'in_sync', 'git']]);
    expect(parsed.fabrics[0]!.lastError).toBe('boom \x1b[31mred\x1b[0m');
    expect(lines[2]).toContain('every 3600000 ms');
    // a calendar fabric: the SCHEDULE column shows its rule, NEXT SYNC its next occurrence
    await scheduler.upsertFabric({ id: 'zz-nightly', schedule: { cron: '0 2 * * 1-5', timeZone: 'Europe/Berlin' } });
    await until(async () => (await scheduler.getFabricStatus('zz-nightly'))?.status === 'in_sync');
    const withCalendar = (await cli(['status', ...base])).out.trimEnd().split('\n');
    const row = withCalendar.find((l) => l.startsWith('zz-nightly'))!;
    expect(row.split(/\s{2,}/).slice(0, 4)).toEqual(['zz-nightly', 'default', 'in_sync', 'cron "0 2 * * 1-5" in Europe/Berlin']);
    expect(row).toMatch(/\bin \d+[smhd]\b/);
    const calJson = JSON.parse((await cli(['status', ...base, '--json'])).out) as { fabrics: Array<{ id: string; schedule: unknown; syncInterval: unknown; nextSyncAt: number }> };
    const cal = calJson.fabrics.find((f) => f.id === 'zz-nightly')!;
    expect(cal).toMatchObject({ schedule: { cron: '0 2 * * 1-5', timeZone: 'Europe/Berlin' }, syncInterval: null });
    expect(new Date(cal.nextSyncAt).getUTCMinutes()).toBe(0);
  });

  it('pause, resume and sync reach the running schedulers through Redis; unknown ids exit 1', { timeout: 90_000 }, async () => {
    const { prefix, scheduler, runs } = await deployment();
    const base = ['--redis', REDIS_URL, '--prefix', prefix];
    expect(await cli(['pause', 'dc1', ...base])).toMatchObject({ code: 0 });
    await until(() => scheduler.pauses().fabrics.includes('dc1'));
    expect((await cli(['status', ...base])).out).toMatch(/dc1\s+default\s+in_sync \(paused\)/);
    expect(await cli(['pause', '--queue', 'git', ...base])).toMatchObject({ code: 0 });
    await until(() => scheduler.pauses().queues.includes('git'));
    expect(await cli(['resume', '--queue', 'git', ...base])).toMatchObject({ code: 0 });
    expect(await cli(['resume', 'dc1', ...base])).toMatchObject({ code: 0 });
    await until(() => scheduler.pauses().fabrics.length === 0 && scheduler.pauses().queues.length === 0);
    expect(await cli(['pause', '--all', ...base])).toMatchObject({ code: 0 });
    await until(() => scheduler.pauses().scheduler);
    expect((await cli(['status', ...base])).out).toContain('ALL SCHEDULERS PAUSED');
    expect(await cli(['resume', '--all', ...base])).toMatchObject({ code: 0 });
    await until(() => !scheduler.pauses().scheduler);
    const before = runs.filter((r) => r.id === 'repo').length;
    const sync = await cli(['sync', 'repo', ...base]);
    expect(sync.code).toBe(0);
    expect(sync.out).toMatch(/Sync of repo requested/);
    await until(() => runs.filter((r) => r.id === 'repo').length === before + 1);
    expect(runs.filter((r) => r.id === 'repo').at(-1)!.trigger).toBe('manual');
    const missing = await cli(['sync', 'nope', ...base]);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe('syncwheel: unknown fabric nope\n');
    expect((await cli(['pause', 'nope', ...base])).code).toBe(1);
  });

  it('check reports a stale "syncing" left by a dead replica (exit 1); check --repair fixes it (exit 0)', async () => {
    const prefix = randomPrefix('cli-check');
    prefixes.push(prefix);
    const storage = new RedisStorage({ client, prefix });
    const def = normalizeFabric({ id: 'ghost', syncInterval: 60_000 }, { syncTimeout: 0 });
    const t = Date.now() - 120_000;
    await storage.write('ghost', { definition: def, state: { ...initialState(), status: 'syncing', lastSyncAt: t - 60_000, lastAttemptAt: t, anchorAt: t - 60_000, lastSlotAt: t, fencingToken: 5 } }, null);
    await storage.write('fine', { definition: normalizeFabric({ id: 'fine', syncInterval: 60_000 }, { syncTimeout: 0 }), state: { ...initialState(), status: 'in_sync', lastSyncAt: Date.now(), anchorAt: t, lastSlotAt: t, nextSyncAt: t + 180_000 } }, null);
    const base = ['--redis', REDIS_URL, '--prefix', prefix];
    const check = await cli(['check', ...base]);
    expect(check.code).toBe(1);
    expect(check.out).toContain('Checked 2 fabrics');
    expect(check.out).toMatch(/repairable\s+stale-syncing\s+ghost: stored "syncing" since/);
    expect(check.out).toContain('syncwheel check --repair');
    expect((await storage.get('ghost'))!.state.status).toBe('syncing');
    const repair = await cli(['check', '--repair', ...base]);
    expect(repair.code).toBe(0);
    expect(repair.out).toMatch(/repaired\s+stale-syncing\s+ghost/);
    expect((await storage.get('ghost'))!.state.status).toBe('out_of_sync');
    const json = await cli(['check', '--json', ...base]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ fabrics: 2, issues: [] });
  });
});

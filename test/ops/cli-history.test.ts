/** `syncwheel history <id>` (issue 13, item 5): a fabric's last runs from Redis, as text and JSON. */
import { describe, expect, it } from 'vitest';
import { createScheduler, type RunHistoryEntry } from '../../src/index.js';
import { RedisStorage } from '../../src/redis/index.js';
import { main } from '../../src/cli.js';
import { REDIS_URL, randomPrefix, redisSuite } from '../helpers/redis.js';
import { until } from '../helpers/wait.js';

const { client, prefixes, schedulers } = redisSuite();

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (s: string) => out.push(s), err: (s: string) => err.push(s), env: {}, isTTY: false } };
}

describe('syncwheel history', () => {
  it('prints the last runs newest first (text and --json, --limit); unknown id exits 1; bad usage exits 2', async () => {
    const prefix = randomPrefix('cli-history');
    prefixes.push(prefix);
    let n = 0;
    const scheduler = createScheduler({
      storage: new RedisStorage({ client, prefix }),
      retry: false,
      historySize: 5,
      executor: () => {
        if (++n === 2) throw new Error('boom \x1b[31mred\x1b[0m');
      },
    });
    schedulers.push(scheduler);
    await scheduler.upsertFabric({ id: 'dc1', syncInterval: 'PT1H' });
    await scheduler.start();
    await until(async () => (await scheduler.listFabrics()).every((f) => f.status === 'in_sync'));
    // (syncNow answers before the run's lease is released: a call right after may be skipped as in-flight)
    const sync = async () => {
      while ((await scheduler.syncNow('dc1')).status === 'skipped') await new Promise((r) => setTimeout(r, 5));
    };
    await sync();
    await sync();
    const base = ['--redis', REDIS_URL, '--prefix', prefix];

    const text = io();
    expect(await main(['history', 'dc1', ...base], text.io)).toBe(0);
    expect(text.out[0]).toMatch(/^FINISHED +AGO +TRIGGER +OUTCOME +DURATION/);
    expect(text.out).toHaveLength(1 + 3 + 1);
    expect(text.out[1]).toMatch(/manual +succeeded/);
    expect(text.out[2]).toMatch(/manual +failed \(error\).*boom \\u001b\[31mred\\u001b\[0m$/); // escapes shown, not run
    expect(text.out[3]).toMatch(/schedule +succeeded/);
    expect(text.out[4]).toBe('3 run(s) of dc1, newest first');

    const json = io();
    expect(await main(['history', 'dc1', ...base, '--json', '--limit', '2'], json.io)).toBe(0);
    const parsed = JSON.parse(json.out.join('\n')) as { fabricId: string; runs: RunHistoryEntry[] };
    expect(parsed.fabricId).toBe('dc1');
    expect(parsed.runs).toEqual((await scheduler.getFabricHistory('dc1')).slice(0, 2));
    expect(parsed.runs.map((r) => [r.trigger, r.outcome])).toEqual([['manual', 'succeeded'], ['manual', 'failed']]);

    const unknown = io();
    expect(await main(['history', 'nope', ...base], unknown.io)).toBe(1);
    expect(unknown.err.join('')).toMatch(/unknown fabric "nope"/);
    const bad = io();
    expect(await main(['history', ...base], bad.io)).toBe(2);
    expect(await main(['history', 'dc1', ...base, '--limit', '0'], bad.io)).toBe(2);
    expect(await main(['status', ...base, '--limit', '3'], bad.io)).toBe(2);
    expect(bad.err.join('\n')).toMatch(/--limit goes with history/);
  });
});

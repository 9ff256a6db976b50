/**
 * One replica of the cluster scenario: a scheduler on RedisStorage + RedlockSingleFlight sharing
 * a prefix with the other replicas. Records every run it makes, its Redis commands (counted at the
 * ioredis client) and its CPU over the window [W0, W1) given by the parent, then writes JSON to argv[3].
 */
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createScheduler } from '../../src/index.js';
import { RedisStorage, RedlockSingleFlight } from '../../src/redis/index.js';
import { sleep } from '../lib/measure.js';

interface Params {
  prefix: string;
  replica: string;
  W0: number;
  W1: number;
  graceMs: number;
  heartbeatInterval: number;
  membershipTtl: number;
}
const p = JSON.parse(process.argv[2]!) as Params;
const out = process.argv[3]!;

const client = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: 1 });
client.on('error', () => undefined);
let commands = 0;
let counting = false;
const send = client.sendCommand.bind(client);
client.sendCommand = ((cmd: Parameters<typeof send>[0]) => {
  if (counting) commands++;
  return send(cmd);
}) as typeof client.sendCommand;

const runs: Array<[string, number, number]> = [];
let errors = 0;
let skipped = 0;
const singleFlight = new RedlockSingleFlight({ clients: [client], prefix: p.prefix, replicaId: p.replica, heartbeatInterval: p.heartbeatInterval, membershipTtl: p.membershipTtl });
const scheduler = createScheduler({
  storage: new RedisStorage({ client, prefix: p.prefix }),
  singleFlight,
  retry: false,
  executor: (fabric, ctx) => {
    runs.push([fabric.id, ctx.scheduledAt, Date.now()]);
  },
});
scheduler.on('error', () => errors++);
scheduler.on('sync:skipped', () => skipped++);

await singleFlight.ready();
await scheduler.start();
await sleep(p.W0 - Date.now());
counting = true;
const c0 = process.cpuUsage();
await sleep(p.W1 - Date.now());
const c = process.cpuUsage(c0);
counting = false;
await sleep(p.graceMs);
await scheduler.stop({ inFlight: 'wait', drainTimeout: 2000 });
await singleFlight.close();
await client.quit();
writeFileSync(out, JSON.stringify({ replica: p.replica, runs, commands, cpuMs: (c.user + c.system) / 1000, errors, skipped }));
process.exit(0);

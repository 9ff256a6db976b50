import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { randomPrefix, realClient, REDIS_URL } from './redis.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { sleep, until } from './wait.js';

const real = realClient();
const port = Number(new URL(REDIS_URL).port || 6379);
const open: Array<{ proxy: TcpProxy; client: Redis }> = [];
const keys: string[] = [];
async function through(): Promise<{ proxy: TcpProxy; client: Redis }> {
  const proxy = await startTcpProxy({ targetPort: port });
  const client = new Redis(proxy.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  client.on('error', () => undefined);
  open.push({ proxy, client });
  return { proxy, client };
}
afterEach(async () => {
  for (const { proxy, client } of open.splice(0)) {
    client.disconnect();
    await proxy.close();
  }
  if (keys.length) await real.del(...keys.splice(0));
});
afterAll(async () => {
  await real.quit();
});

describe('tcp proxy (test helper)', () => {
  it('forwards, black-holes both ways without closing, delivers held bytes on heal', async () => {
    const { proxy, client } = await through();
    const key = `${randomPrefix('proxy')}:k`;
    keys.push(key);
    expect(await client.ping()).toBe('PONG');
    expect(proxy.connections).toBe(1);
    proxy.blackhole();
    const pending = client.set(key, 'v');
    let settled = false;
    void pending.then(() => (settled = true), () => (settled = true));
    await sleep(300);
    expect(settled).toBe(false); // no reply
    expect(await real.get(key)).toBeNull(); // the command did not reach Redis either
    expect(client.status).toBe('ready'); // and the client saw no error
    expect(proxy.connections).toBe(1);
    proxy.heal();
    expect(await pending).toBe('OK'); // held, then delivered in order
    expect(await real.get(key)).toBe('v');
    expect(await client.get(key)).toBe('v');
  });

  it('accepts new connections while black-holed (they get nothing), resets and closes', async () => {
    const { proxy, client } = await through();
    expect(await client.ping()).toBe('PONG');
    proxy.blackhole();
    const late = new Redis(proxy.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 5_000 });
    late.on('error', () => undefined);
    await until(() => proxy.connections === 2, 2_000);
    const ping = late.ping().catch(() => 'failed');
    await sleep(200);
    proxy.heal();
    expect(await ping).toBe('PONG');
    late.disconnect();
    await until(() => proxy.connections === 1, 2_000);
    proxy.reset();
    await until(() => client.status !== 'ready', 2_000);
    await until(() => client.status === 'ready', 3_000);
    expect(await client.ping()).toBe('PONG');
    await proxy.close();
    await until(() => client.status !== 'ready', 2_000);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.js';
import { startUpstream, Upstream } from '../src/upstream.js';

const running: Upstream[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((upstream) => upstream.close()));
});

async function start(options: ConstructorParameters<typeof Upstream>[0] = {}, random?: () => number) {
  const upstream = new Upstream({ latency: 0, ...options }, random);
  await upstream.listen();
  running.push(upstream);
  return upstream;
}

describe('demo upstream service', () => {
  it('serves the catalog and one product, counting every request', async () => {
    const upstream = await start();
    const list = await fetch(`${upstream.url}/products`);
    expect(list.status).toBe(200);
    const body = (await list.json()) as { products: { id: string }[] };
    expect(body.products.map((p) => p.id)).toContain('grinder');

    const item = await fetch(`${upstream.url}/products/grinder`);
    expect(((await item.json()) as { product: { id: string } }).product.id).toBe('grinder');
    expect((await fetch(`${upstream.url}/products/nope`)).status).toBe(404);

    expect(upstream.stats).toMatchObject({
      requests: 3,
      failures: 0,
      byRoute: { 'GET /products': 1, 'GET /products/:id': 2 },
    });
    expect(upstream.log.map((entry) => entry.status)).toEqual([200, 200, 404]);
  });

  it('waits its latency before answering', async () => {
    const upstream = await start({ latency: 0.15 });
    const started = performance.now();
    await fetch(`${upstream.url}/products`);
    // Real time is the subject (a real server's delay): a lower bound only, which a busy
    // machine can only exceed; 10 ms of slack for timers firing early after rounding.
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('answers 503 to the next n GETs, then to its failure rate', async () => {
    let roll = 0.9;
    const upstream = await start({ failureRate: 0.5 }, () => roll);
    upstream.failNext(2);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${upstream.url}/products`)).status);
    expect(statuses).toEqual([503, 503, 200]);
    roll = 0.1;
    expect((await fetch(`${upstream.url}/products`)).status).toBe(503);
    upstream.setFailureRate(0);
    expect((await fetch(`${upstream.url}/products`)).status).toBe(200);
    expect(upstream.stats.failures).toBe(3);
    expect(upstream.settings.failNext).toBe(0);
  });

  it('restocks with POST, never failing it on purpose', async () => {
    const upstream = await start({ failureRate: 1 });
    const response = await fetch(`${upstream.url}/products/scale/restock`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ amount: 5 }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { product: { stock: number } }).product.stock).toBe(5);
    const bad = await fetch(`${upstream.url}/products/scale/restock`, {
      method: 'POST',
      body: '{"amount":0}',
    });
    expect(bad.status).toBe(400);
    upstream.reset();
    upstream.setFailureRate(0);
    const item = await fetch(`${upstream.url}/products/scale`);
    expect(((await item.json()) as { product: { stock: number } }).product.stock).toBe(0);
  });

  it('refuses connections while down and comes back on the same port', async () => {
    const upstream = await startUpstream({ latency: 0 });
    running.push(upstream);
    const url = upstream.url;
    await upstream.setDown(true);
    await expect(fetch(`${url}/products`)).rejects.toThrow(TypeError);
    await upstream.setDown(false);
    expect(upstream.url).toBe(url);
    expect((await fetch(`${url}/products`)).status).toBe(200);
  });

  it('rejects bad knobs with a message naming the value', async () => {
    const upstream = await start();
    expect(() => upstream.setFailureRate(2)).toThrow(/failureRate must be a number from 0 to 1, got 2/);
    expect(() => upstream.setLatency(-1)).toThrow(/latency must be .* got -1/);
    expect(() => upstream.failNext(1.5)).toThrow(/failNext/);
  });
});

describe('demo config', () => {
  it('has defaults for everything', () => {
    const config = readConfig({});
    expect(config).toMatchObject({ port: 3000, host: '127.0.0.1', redisUrl: undefined, listExpire: 20 });
  });

  it('reads overrides and names a bad variable', () => {
    expect(
      readConfig({ PORT: '0', DEMO_LIST_EXPIRE: '0.5', REDIS_URL: 'redis://127.0.0.1:6390' }),
    ).toMatchObject({
      port: 0,
      listExpire: 0.5,
      redisUrl: 'redis://127.0.0.1:6390',
    });
    expect(() => readConfig({ DEMO_LIST_EXPIRE: '-1' })).toThrow(
      /DEMO_LIST_EXPIRE must be a positive number/,
    );
    expect(() => readConfig({ REDIS_URL: 'localhost:6379' })).toThrow(/REDIS_URL/);
  });
});

/**
 * The demo with `REDIS_URL`: cache hits through Redis, and a Redis outage in the
 * middle of a session (a private redis-server that the test kills and restarts;
 * the shared one on 6379 is never touched beyond this file's own key prefix).
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACTS,
  buildPage,
  card,
  type DemoProcess,
  demoState,
  freePort,
  launchBrowser,
  PrivateRedis,
  settledSource,
  startDemo,
} from './harness.js';

const SHARED_REDIS = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

let browser: Browser;
let staticDir: string;
let removePage: () => Promise<void>;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  const built = await buildPage();
  staticDir = built.dir;
  removePage = built.remove;
  browser = await launchBrowser();
  await mkdir(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await browser?.close();
  await removePage?.();
});

async function openDemo(env: Record<string, string>): Promise<{ demo: DemoProcess; page: Page }> {
  const demo = await startDemo(staticDir, env);
  cleanups.push(() => demo.stop('SIGKILL'));
  const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
  cleanups.push(() => page.close());
  return { demo, page };
}

/** Every key under `prefix`, found with SCAN (never KEYS on a shared server). */
async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/**
 * Clicks the catalog card's Refetch and waits for the server to record the call;
 * returns where the server got the answer from.
 */
async function refetchCatalog(demo: DemoProcess, page: Page): Promise<string | undefined> {
  const before = (await demoState(demo.url)).procedures['catalog.list']?.calls ?? 0;
  const button = card(page, 'catalog.list').getByTestId('refetch');
  await expect.poll(() => button.isEnabled()).toBe(true);
  await button.click();
  await expect
    .poll(async () => (await demoState(demo.url)).procedures['catalog.list']?.calls ?? 0)
    .toBe(before + 1);
  const { events } = await demoState(demo.url);
  return events.filter((event) => event.path === 'catalog.list').at(-1)?.source;
}

describe('demo page with REDIS_URL', () => {
  it('serves reloads within the TTL from Redis, with no upstream call', async () => {
    const prefix = `demo-e2e-${randomUUID()}`;
    const redis = new Redis(SHARED_REDIS, { lazyConnect: true });
    await redis.connect();
    cleanups.push(async () => {
      const keys = await keysUnder(redis, prefix);
      if (keys.length > 0) await redis.unlink(...keys);
      redis.disconnect();
    });
    const { demo, page } = await openDemo({ REDIS_URL: SHARED_REDIS, DEMO_CACHE_PREFIX: prefix });

    await page.goto(demo.url);
    expect(await settledSource(page, 'catalog.list')).toBe('upstream');
    expect(await settledSource(page, 'catalog.byId')).toBe('upstream');
    await expect.poll(() => page.getByTestId('backend').textContent()).toBe('Redis');
    expect((await keysUnder(redis, prefix)).length).toBeGreaterThanOrEqual(2);
    const before = (await demoState(demo.url)).upstream.requests;
    expect(before).toBe(2);

    await page.reload();
    expect(await settledSource(page, 'catalog.list')).toBe('cache');
    expect(await settledSource(page, 'catalog.byId')).toBe('cache');
    const state = await demoState(demo.url);
    expect(state.backend).toBe('redis');
    expect(state.upstream.requests).toBe(before);
    expect(state.cacheErrors.count).toBe(0);
    expect(await demo.stop('SIGINT')).toBe(0);
  });

  it('keeps answering from upstream while Redis is down, and caches again once it is back', async () => {
    const redisServer = new PrivateRedis(await freePort(6590, 6619));
    await redisServer.start();
    cleanups.push(() => redisServer.stop());
    const { demo, page } = await openDemo({
      REDIS_URL: redisServer.url,
      DEMO_CACHE_PREFIX: `demo-e2e-${randomUUID()}`,
    });

    await page.goto(demo.url);
    expect(await settledSource(page, 'catalog.list')).toBe('upstream');
    expect(await refetchCatalog(demo, page)).toBe('cache');

    await redisServer.stop();
    const upstreamBefore = (await demoState(demo.url)).upstream.byRoute['GET /products'] ?? 0;
    expect(await refetchCatalog(demo, page)).toBe('upstream');
    expect(await refetchCatalog(demo, page)).toBe('upstream');
    const down = await demoState(demo.url);
    expect(down.upstream.byRoute['GET /products']).toBe(upstreamBefore + 2);
    expect(down.procedures['catalog.list']?.errors ?? 0).toBe(0);
    expect(down.cacheErrors.count).toBeGreaterThan(0);
    await expect.poll(() => card(page, 'catalog.list').getAttribute('data-source')).toBe('upstream');
    expect(await card(page, 'catalog.list').getByTestId('error').count()).toBe(0);
    await expect.poll(() => page.getByTestId('cache-errors').textContent()).not.toBe('0');
    await page.screenshot({ path: path.join(ARTIFACTS, 'demo-redis-down.png'), fullPage: true });

    await redisServer.start();
    // ioredis reconnects with a backoff of up to 2 s; then a miss stores and the next call hits.
    await expect.poll(() => refetchCatalog(demo, page), { timeout: 20_000, interval: 200 }).toBe('cache');
    await expect.poll(() => card(page, 'catalog.list').getAttribute('data-source')).toBe('cache');
    expect(await demo.stop('SIGINT')).toBe(0);
  }, 60_000);
});

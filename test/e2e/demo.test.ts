/**
 * The demo end to end, in headless Chromium, with the in-memory cache: what a
 * newcomer sees after `npm run demo`.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACTS,
  buildPage,
  card,
  type DemoProcess,
  demoState,
  launchBrowser,
  settledSource,
  startDemo,
} from './harness.js';

let page: Page;
let browser: Browser;
let demo: DemoProcess;
let removePage: () => Promise<void>;

beforeAll(async () => {
  const built = await buildPage();
  removePage = built.remove;
  [demo, browser] = await Promise.all([startDemo(built.dir), launchBrowser()]);
  page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
  await mkdir(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop('SIGKILL');
  await removePage?.();
});

const upstreamGets = async () => {
  const { upstream } = await demoState(demo.url);
  return {
    list: upstream.byRoute['GET /products'] ?? 0,
    item: upstream.byRoute['GET /products/:id'] ?? 0,
    total: upstream.requests,
  };
};

describe('demo page (in-memory cache)', () => {
  it('first load shows data fetched from upstream', async () => {
    await page.goto(demo.url);
    expect(await settledSource(page, 'catalog.list')).toBe('upstream');
    expect(await settledSource(page, 'catalog.byId')).toBe('upstream');
    await expect
      .poll(() => card(page, 'catalog.list').locator('[data-testid="data"]').textContent())
      .toContain('Burr grinder');
    expect(await card(page, 'catalog.byId').locator('[data-testid="data"]').textContent()).toContain(
      'Burr grinder',
    );
    expect(await upstreamGets()).toEqual({ list: 1, item: 1, total: 2 });
    // Both countdowns run: the server entry and the mirrored client freshness.
    const serverLeft = Number(
      await card(page, 'catalog.list').getByTestId('server-ttl').getAttribute('data-left-ms'),
    );
    const clientLeft = Number(
      await card(page, 'catalog.list').getByTestId('client-fresh').getAttribute('data-left-ms'),
    );
    expect(serverLeft).toBeGreaterThan(20_000);
    expect(serverLeft).toBeLessThanOrEqual(30_000);
    expect(clientLeft).toBeGreaterThan(20_000);
    expect(clientLeft).toBeLessThanOrEqual(30_000);
  });

  it('a reload within the TTL is answered from the server cache, with no upstream call', async () => {
    await page.reload();
    expect(await settledSource(page, 'catalog.list')).toBe('cache');
    expect(await settledSource(page, 'catalog.byId')).toBe('cache');
    expect(await upstreamGets()).toEqual({ list: 1, item: 1, total: 2 });
    const { procedures } = await demoState(demo.url);
    expect(procedures['catalog.list']).toMatchObject({ calls: 2, fromCache: 1, fromUpstream: 1 });
  });

  it('a remount within the mirrored TTL does not even ask the server', async () => {
    const before = (await demoState(demo.url)).procedures['catalog.list']!.calls;
    await card(page, 'catalog.list').getByTestId('remount').click();
    await card(page, 'catalog.list').locator('[data-testid="data"]').waitFor();
    await page.waitForTimeout(300);
    expect((await demoState(demo.url)).procedures['catalog.list']!.calls).toBe(before);
  });

  it('the mutation invalidates both queries and the next reads go upstream', async () => {
    await card(page, 'catalog.byId').getByTestId('restock').click();
    // Grinder stock was 4: +5 shows in both cards once they have refetched.
    await expect
      .poll(() => card(page, 'catalog.byId').locator('[data-testid="data"]').textContent())
      .toContain('9 in stock');
    await expect
      .poll(() => card(page, 'catalog.list').locator('[data-testid="data"]').textContent())
      .toContain('9 in stock');
    expect(await settledSource(page, 'catalog.list')).toBe('upstream');
    expect(await settledSource(page, 'catalog.byId')).toBe('upstream');
    const { upstream } = await demoState(demo.url);
    expect(upstream.byRoute).toMatchObject({
      'GET /products': 2,
      'GET /products/:id': 2,
      'POST /products/:id/restock': 1,
    });
  });

  it('a 503 from upstream is retried and the page still shows data', async () => {
    await page.getByTestId('fail-next').click();
    await expect
      .poll(async () => (await demoState(demo.url)).upstream)
      .toMatchObject({ failNext: 1, failures: 0 });
    await page.getByTestId('clear-cache').click();
    await expect.poll(async () => (await demoState(demo.url)).upstream.failures).toBe(1);
    expect(await settledSource(page, 'catalog.list')).toBe('upstream');
    expect(await settledSource(page, 'catalog.byId')).toBe('upstream');
    const { procedures, events } = await demoState(demo.url);
    const retries = (procedures['catalog.list']?.retries ?? 0) + (procedures['catalog.byId']?.retries ?? 0);
    expect(retries).toBe(1);
    expect(procedures['catalog.list']?.errors ?? 0).toBe(0);
    expect(procedures['catalog.byId']?.errors ?? 0).toBe(0);
    expect(events.some((event) => event.source === 'upstream' && event.attempts === 2)).toBe(true);
    expect(await page.locator('[role="alert"]').count()).toBe(0);
    // The page polls the counters every second: wait until it shows the retried call.
    await page.locator('[data-testid="events"] tr', { hasText: 'retried after HTTP 503' }).first().waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'demo.png'), fullPage: true });
  });

  it('upstream fully down: the page shows the mapped TRPCError, then recovers', async () => {
    await page.getByTestId('toggle-down').click();
    await expect.poll(() => page.getByTestId('upstream-status').textContent()).toBe('Down');
    await page.getByTestId('clear-cache').click();
    const error = card(page, 'catalog.list').getByTestId('error');
    await error.waitFor({ timeout: 15_000 });
    const text = (await error.textContent()) ?? '';
    expect(text).toMatch(/BAD_GATEWAY/);
    expect(text.replace('BAD_GATEWAY', '').trim().length).toBeGreaterThan(5);
    // Not blank: the last good data stays on screen under the error.
    expect(await card(page, 'catalog.list').locator('[data-testid="data"]').textContent()).toContain(
      'Burr grinder',
    );
    await expect
      .poll(() => card(page, 'catalog.list').getByTestId('stat-errors').textContent())
      .not.toBe('0');
    await page.screenshot({ path: path.join(ARTIFACTS, 'demo-upstream-down.png'), fullPage: true });

    await page.getByTestId('toggle-down').click();
    await expect.poll(() => page.getByTestId('upstream-status').textContent()).toBe('Up');
    await card(page, 'catalog.list').getByTestId('refetch').click();
    await card(page, 'catalog.byId').getByTestId('refetch').click();
    await expect.poll(() => card(page, 'catalog.list').getAttribute('data-source')).toBe('upstream');
    await expect.poll(() => card(page, 'catalog.byId').getAttribute('data-source')).toBe('upstream');
    expect(await card(page, 'catalog.list').getByTestId('error').count()).toBe(0);
    expect(await card(page, 'catalog.list').locator('[data-testid="data"]').textContent()).toContain(
      'Burr grinder',
    );
  });

  it('Ctrl-C stops the demo cleanly', async () => {
    const code = await demo.stop('SIGINT');
    expect(code).toBe(0);
    expect(demo.output()).toContain('Stopped.');
  });
});

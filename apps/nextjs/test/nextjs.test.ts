/**
 * The Next.js example end to end: `next build`, then `next start`, driven in
 * headless Chromium. It measures trpc-memory's promise where such apps use it most:
 * data React Query treats as fresh is never older than the server's cache entry,
 * for queries server-rendered and hydrated, streamed into the page, and fetched by
 * the browser through `httpBatchStreamLink` or `httpBatchLink`.
 *
 * Freshness is measured without timing the machine: the app's debug route reads the
 * entry's expiry on the server's clock (browser and server share this machine's
 * clock), and the page reports the moment React Query counts the data stale
 * (`dataUpdatedAt + staleTime`) and when its observers saw it turn stale.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { launchBrowser, type ServerProcess } from '../../../test/e2e/harness.js';
import {
  APP,
  buildApp,
  clearServerCache,
  clientFreshness,
  RECORD_STALE_FLIPS,
  recordCalls,
  removeBuild,
  resolverRuns,
  serverEntry,
  startApp,
} from './harness.js';

/**
 * Slack for comparing the browser's clock (`performance.timeOrigin`, sub-millisecond)
 * with the server's (`Date.now()`, whole milliseconds): one machine, one clock.
 */
const CLOCK_SLACK_MS = 2;
/**
 * How early fresh data may turn stale on an idle machine: the page counts from when
 * the link took the call (a batch link sends it a moment later), not from the
 * response. When the request itself took longer (a busy machine), its latency.
 */
const EARLY_MS = 250;
/** Short TTLs, to watch queries turn stale. */
const SHORT = { EXAMPLE_POST_EXPIRE: '6', EXAMPLE_ME_EXPIRE: '6', EXAMPLE_SLOW_DELAY: '1' };
/** Long TTLs, for what must happen within one. */
const LONG = { EXAMPLE_POST_EXPIRE: '300', EXAMPLE_ME_EXPIRE: '300', EXAMPLE_SLOW_DELAY: '0.2' };

const distDir = `.next-test-${randomUUID().slice(0, 8)}`;
let browser: Browser;
let short: ServerProcess;
let long: ServerProcess;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  const [, launched] = await Promise.all([buildApp(distDir), launchBrowser()]);
  browser = launched;
  // The memory backend: each process its own cache (REDIS_URL is cleared on purpose).
  [short, long] = await Promise.all([
    startApp(distDir, { ...SHORT, REDIS_URL: '' }),
    startApp(distDir, { ...LONG, REDIS_URL: '' }),
  ]);
  // `next start` loads a route's code on its first request, which can take a second
  // before rendering begins; what is measured here is a server in service.
  await Promise.all(
    [short, long].map(async (app) => (await fetch(app.url, { headers: { cookie: 'user=warm-up' } })).text()),
  );
}, 240_000);

afterAll(async () => {
  await Promise.all(contexts.map((context) => context.close()));
  await browser?.close();
  await Promise.all([short?.stop('SIGKILL'), long?.stop('SIGKILL')]);
  await removeBuild(distDir);
});

async function openPage(app: ServerProcess, user: string | undefined, query = ''): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  if (user !== undefined) await context.addCookies([{ name: 'user', value: user, url: app.url }]);
  await context.addInitScript(RECORD_STALE_FLIPS);
  const page = await context.newPage();
  await page.goto(`${app.url}/${query}`);
  // The streamed part of the page has arrived and the browser has fetched its own query.
  await page.getByTestId('slow').waitFor();
  await page.getByTestId('client').and(page.locator('[data-version]')).waitFor();
  return page;
}

/** Whether the page's `post.byId` query of `input` was invalidated (marked for a refetch). */
function queryInvalidated(page: Page, input: { id: string }): Promise<boolean> {
  return page.evaluate((inputJson) => {
    const client = (
      window as unknown as {
        __TANSTACK_QUERY_CLIENT__: {
          getQueryCache(): { getAll(): { queryKey: unknown[]; state: { isInvalidated: boolean } }[] };
        };
      }
    ).__TANSTACK_QUERY_CLIENT__;
    const query = client
      .getQueryCache()
      .getAll()
      .find(
        (q) =>
          JSON.stringify(q.queryKey[0]) === '["post","byId"]' &&
          JSON.stringify((q.queryKey[1] as { input?: unknown }).input) === inputJson,
      );
    if (query === undefined) throw new Error(`no post.byId query of ${inputJson}`);
    return query.state.isInvalidated;
  }, JSON.stringify(input));
}

/**
 * From sending the request that brought `procedure`'s data to its first byte coming
 * back (ms): the page's last fetch of it, else the document (server rendered). The
 * server reads the entry's remaining time within that span, so the page, counting
 * from the send, is early by at most this much, however busy the machine.
 */
function requestLatency(page: Page, procedure: string): Promise<number> {
  return page.evaluate((path) => {
    const fetches = performance
      .getEntriesByType('resource')
      .filter((entry) => entry.name.includes('/api/trpc/') && entry.name.includes(path));
    const [document] = performance.getEntriesByType('navigation');
    const entry = (fetches.at(-1) ?? document) as PerformanceResourceTiming;
    return entry.responseStart - entry.requestStart;
  }, procedure);
}

/** Figures for the closing report: ms before (+) or after (−) the server entry's expiry. */
const figures: Record<string, number> = {};

interface Check {
  /** The name of the figure. */
  name: string;
  procedure: string;
  /** Whether the page can know the entry's expiry (then it is early by at most EARLY_MS, or its request's latency). */
  exact: boolean;
  cookie?: string;
  input?: { id: string };
}

/**
 * Checks queries of the page against their server entries: the page counts each
 * stale no later than its entry expires (and, when `exact`, earlier by at most
 * EARLY_MS, or by the time between sending the request that brought the data and its
 * first byte coming back when that is longer: the page counts the remaining time
 * from when it sent the request),
 * and its observers report it stale, never before that moment. All entries are read
 * first, while the page's own entries are still there.
 */
async function expectFreshUntilExpiry(page: Page, app: ServerProcess, checks: Check[]): Promise<void> {
  const measured = [];
  for (const check of checks) {
    const entry = await serverEntry(app.url, check.procedure, {
      ...(check.cookie === undefined ? {} : { cookie: check.cookie }),
      ...(check.input === undefined ? {} : { id: check.input.id }),
    });
    // The same entry the page got (a `miss` would mean the read itself cached a new one).
    expect(entry.source, `${check.procedure} entry`).toBe('hit');
    const before = await clientFreshness(page, check.procedure, check.input);
    measured.push({ check, expiresAt: entry.expiresAt!, before });
  }
  for (const { check, expiresAt, before } of measured) {
    figures[check.name] = expiresAt - before.staleAt;
    expect(before.staleAt, check.name).toBeLessThanOrEqual(expiresAt);
    if (check.exact) {
      const latency = await requestLatency(page, check.procedure);
      const early = Math.max(EARLY_MS, latency + CLOCK_SLACK_MS);
      expect(before.staleAt, check.name).toBeGreaterThanOrEqual(expiresAt - early);
    }
    if (before.now < before.staleAt) expect(before.isStale, check.name).toBe(false);
    // The observers flip on a timer, which can only fire late: never before staleAt.
    // This query's own flip: the page holds other queries of the same path (posts a and b).
    await page.waitForFunction(
      ([pathPart, inputPart]) =>
        Object.keys((window as unknown as { __turnedStale: object }).__turnedStale).some(
          (hash) => hash.includes(pathPart) && (inputPart === null || hash.includes(inputPart)),
        ),
      [
        JSON.stringify(check.procedure.split('.')),
        check.input === undefined ? null : `"input":${JSON.stringify(check.input)}`,
      ] as const,
    );
    const flipped = await clientFreshness(page, check.procedure, check.input);
    expect(flipped.isStale, check.name).toBe(true);
    expect(flipped.staleAt, check.name).toBe(before.staleAt);
    expect(flipped.turnedStaleAt, check.name).toBeGreaterThanOrEqual(Math.floor(before.staleAt));
  }
}

describe('Next.js example: freshness in the browser matches the server cache', () => {
  // Each measurement starts from an empty server cache: entries made by this page load.
  beforeEach(() => clearServerCache(short.url));

  it('a query prefetched in a server component and hydrated turns stale at most 250 ms (or the latency of its request) before, never after, its server entry', async () => {
    const page = await openPage(short, 'alice');
    await expectFreshUntilExpiry(page, short, [
      { name: 'hydrated (post.latest)', procedure: 'post.latest', exact: true },
    ]);
  });

  it('a query streamed into the page by server components does too, however late its part arrived', async () => {
    const page = await openPage(short, 'carol');
    await expectFreshUntilExpiry(page, short, [
      { name: 'hydrated, scoped (user.me)', procedure: 'user.me', exact: true, cookie: 'user=carol' },
      { name: 'streamed by RSC (post.slow)', procedure: 'post.slow', exact: true },
    ]);
  });

  it('a query the browser fetches through httpBatchStreamLink is never fresh past its server entry (stale at once)', async () => {
    const page = await openPage(short, 'dave', '?post=dave');
    await expectFreshUntilExpiry(page, short, [
      { name: 'streamed (httpBatchStreamLink)', procedure: 'post.byId', exact: false, input: { id: 'dave' } },
    ]);
    // The safe default: nothing told how long the entry has left, so it is stale on arrival.
    const { staleAt } = await clientFreshness(page, 'post.byId', { id: 'dave' });
    const dataUpdatedAt = await page.evaluate(
      () =>
        (
          window as unknown as {
            __TANSTACK_QUERY_CLIENT__: {
              getQueryCache(): { getAll(): { queryKey: unknown[]; state: { dataUpdatedAt: number } }[] };
            };
          }
        ).__TANSTACK_QUERY_CLIENT__
          .getQueryCache()
          .getAll()
          .find(
            (q) =>
              JSON.stringify(q.queryKey[0]) === '["post","byId"]' &&
              JSON.stringify((q.queryKey[1] as { input?: unknown }).input) === '{"id":"dave"}',
          )!.state.dataUpdatedAt,
    );
    expect(staleAt).toBe(dataUpdatedAt);
  });

  it('a query the browser fetches through httpBatchLink with cacheHintsLink turns stale at most 250 ms (or the latency of its request) before, never after, its server entry', async () => {
    const page = await openPage(short, 'erin', '?link=batch&post=erin');
    await expectFreshUntilExpiry(page, short, [
      {
        name: 'batched (httpBatchLink + cacheHintsLink)',
        procedure: 'post.byId',
        exact: true,
        input: { id: 'erin' },
      },
    ]);
  });

  afterAll(() => {
    console.info(
      `[freshness] ms before (+) / after (−) the server entry's expiry:\n${Object.entries(figures)
        .map(([name, ms]) => `  ${name}: ${ms}`)
        .join('\n')}`,
    );
  });
});

describe('Next.js example: the cache at work', () => {
  it('a reload within the TTL makes no resolver run', async () => {
    const page = await openPage(long, 'frank');
    const runs = await resolverRuns(long.url);
    expect(runs).toMatchObject({
      'post.latest': 1,
      'post.slow': 1,
      'post.byId:home': 1,
      'post.byId:a': 1,
      'post.byId:b': 1,
      'user.me:frank': 1,
    });
    await page.reload();
    await page.getByTestId('slow').waitFor();
    await page.getByTestId('client').and(page.locator('[data-version]')).waitFor();
    expect(await resolverRuns(long.url)).toEqual(runs);
  });

  it('two users with different cookies never see each other’s scoped data', async () => {
    const pages = await Promise.all([openPage(long, 'grace'), openPage(long, 'heidi')]);
    for (const [page, user, other] of [
      [pages[0], 'grace', 'heidi'],
      [pages[1], 'heidi', 'grace'],
    ] as const) {
      for (let load = 0; load < 2; load++) {
        if (load > 0) await page.reload();
        await expect.poll(() => page.getByTestId('me-name').textContent()).toBe(user);
        expect(await page.getByTestId('me-secret').textContent()).toBe(`${user}'s private note`);
        // Not in the page, not in the dehydrated state it carries.
        expect(await page.content()).not.toContain(other);
      }
    }
    const runs = await resolverRuns(long.url);
    // Each user's entry was computed once and then served to that user only.
    expect(runs['user.me:grace']).toBe(1);
    expect(runs['user.me:heidi']).toBe(1);
  });

  for (const [link, query] of [
    ['queries through t3’s httpBatchStreamLink', ''],
    ['queries through httpBatchLink with cacheHintsLink', '?link=batch'],
  ] as const) {
    it(`a mutation refetches the queries it invalidates, ${link}`, async () => {
      const page = await openPage(long, 'ivan', query);
      const calls = recordCalls(page);
      const title = `Renamed ${randomUUID().slice(0, 6)}`;
      await page.getByTestId('rename-input').fill(title);
      await page.getByTestId('rename').click();
      await page.getByTestId('renamed').waitFor();
      // Hydrated, streamed and browser-fetched reads of the latest post all show the new
      // title: each refetched (its tag, post:home, is the mutation's target).
      await expect.poll(() => page.getByTestId('latest-title').textContent()).toBe(title);
      await expect.poll(() => page.getByTestId('slow-title').textContent()).toBe(title);
      await expect.poll(() => page.getByTestId('client-title').textContent()).toBe(title);
      // Posts a and b, hydrated with their own tags, were left alone.
      expect(calls.count('post.byId', { id: 'a' })).toBe(0);
      expect(calls.count('post.byId', { id: 'b' })).toBe(0);
    });

    it(`renaming one post refetches exactly the hydrated query of that post, ${link}`, async () => {
      const page = await openPage(long, 'kim', query);
      const before = await resolverRuns(long.url);
      const calls = recordCalls(page);
      const title = `Renamed ${randomUUID().slice(0, 6)}`;
      await page.getByTestId('rename-id').selectOption('a');
      await page.getByTestId('rename-input').fill(title);
      await page.getByTestId('rename').click();
      await page.getByTestId('renamed').waitFor();
      await expect.poll(() => page.getByTestId('post-a-title').textContent()).toBe(title);
      // The refetch of post a was the browser's one call for it; post b and the latest
      // post (hydrated with tags post:b, post:home) were not invalidated, so not refetched.
      expect(calls.count('post.byId', { id: 'a' })).toBe(1);
      expect(calls.count('post.byId', { id: 'b' })).toBe(0);
      expect(calls.count('post.latest')).toBe(0);
      expect(calls.count('post.slow')).toBe(0);
      expect(await page.getByTestId('post-b-title').textContent()).toBe('Post b');
      expect(await queryInvalidated(page, { id: 'b' })).toBe(false);
      // The browser-fetched post.byId({ id: 'home' }): through cacheHintsLink its tags were
      // reported and it stays; through the streaming link nothing told its tags, so any
      // tag target refetches it (computed tags: more refetches, never fewer).
      expect(calls.count('post.byId', { id: 'home' })).toBe(query === '' ? 1 : 0);
      // On the server only post a's entry was dropped: its resolver alone ran again.
      const after = await resolverRuns(long.url);
      expect(
        Object.fromEntries(Object.entries(after).filter(([path, runs]) => runs !== before[path])),
      ).toEqual({ 'post.byId:a': (before['post.byId:a'] ?? 0) + 1 });
    });
  }
});

describe('Next.js example with Redis (REDIS_URL): one cache for every server process', () => {
  let first: ServerProcess;
  let second: ServerProcess;
  beforeAll(async () => {
    const env = {
      ...LONG,
      REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
      // The shared Redis: a prefix of this run's own, emptied afterwards.
      EXAMPLE_CACHE_PREFIX: `trpc-memory-nextjs-test-${randomUUID()}`,
    };
    [first, second] = await Promise.all([startApp(distDir, env), startApp(distDir, env)]);
  }, 60_000);
  afterAll(async () => {
    if (first !== undefined) await clearServerCache(first.url);
    await Promise.all([first?.stop('SIGKILL'), second?.stop('SIGKILL')]);
  });

  it('a page served by one process is answered from the cache another filled, and a mutation on one reaches both', async () => {
    await openPage(first, 'judy');
    expect(await resolverRuns(first.url)).toMatchObject({ 'post.latest': 1, 'user.me:judy': 1 });
    const page = await openPage(second, 'judy');
    // Redis had every entry: no resolver ran in the second process.
    expect(await resolverRuns(second.url)).toEqual({});
    expect(await page.getByTestId('me-name').textContent()).toBe('judy');

    const title = `Renamed ${randomUUID().slice(0, 6)}`;
    await page.getByTestId('rename-input').fill(title);
    await page.getByTestId('rename').click();
    await expect.poll(() => page.getByTestId('latest-title').textContent()).toBe(title);
    // The old entry is gone from Redis and the refetch stored the new one: the first
    // process serves the new title (each process keeps its own store, so only the
    // shared cache can have told it) without running its resolver again.
    const again = await openPage(first, 'judy');
    expect(await again.getByTestId('latest-title').textContent()).toBe(title);
    expect((await resolverRuns(first.url))['post.latest']).toBe(1);
  });
});

describe('Next.js example: the browser bundle', () => {
  it('holds no server code (ioredis, undici, lru-cache, trpc-memory server, resolvers)', async () => {
    const dir = path.join(APP, distDir, 'static');
    const files = (await readdir(dir, { recursive: true })).filter((file) => file.endsWith('.js'));
    expect(files.length).toBeGreaterThan(0);
    const forbidden = [
      'ioredis', // its error messages name it
      'undici',
      'LRUCache', // lru-cache's class name survives minification in its messages
      'memorize() only memorizes queries', // @trpc-memory/server
      'private note', // the user.me resolver
      'Hello from the server', // the store behind the resolvers
    ];
    for (const file of files) {
      const text = await readFile(path.join(dir, file), 'utf8');
      for (const needle of forbidden) expect(text.includes(needle), `${needle} in ${file}`).toBe(false);
    }
  });
});

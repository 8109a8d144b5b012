// @vitest-environment jsdom
/**
 * Precise invalidation in the browser (jsdom) against the real server: after a
 * mutation, exactly the queries its targets name refetch — by path and input, and
 * by the tags the server reported with each result (over HTTP, or with the data a
 * server render handed over) — with `cacheHintsLink` (the mutation's own report)
 * and without it (the static policy). Every query is mounted (an observer), so an
 * invalidated query refetches at once; requests are counted at the server
 * (`httpLink`: one request per call).
 */
import {
  dehydrate,
  hydrate,
  type QueryClient,
  type QueryKey,
  QueryObserver,
  QueryClient as ReactQueryClient,
} from '@tanstack/react-query';
import { createTRPCClient, httpLink } from '@trpc/client';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import {
  type CachePolicy,
  createCacheHints,
  createMemoHooks,
  getCacheHint,
  mirrorServerTtl,
} from '@trpc-memory/client';
import { cachePolicy, reportServerTtl } from '@trpc-memory/server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { gate } from '../../packages/server/test/helpers/in-flight.js';
import { T0, until } from '../../packages/server/test/helpers/time.js';
import { type AppRouter, startServer, type TestServer, uid } from './fixture.js';
import { freezeTime, mirrored, overTheWire, pageRequestedAt } from './helpers.js';

let server: TestServer;
const cleanups: (() => void)[] = [];

beforeEach(async () => {
  freezeTime();
  server = await startServer();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await server.close();
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function newQueryClient(): QueryClient {
  const queryClient = new ReactQueryClient();
  cleanups.push(() => queryClient.clear());
  return queryClient;
}

/** Mounts an observer on each query (what a component does) once its data is in. */
async function mount(queryClient: QueryClient, ...queries: { queryKey: QueryKey }[]) {
  // Typed hooks' options, any output type: what fetchQuery and an observer take.
  await Promise.all(queries.map((options) => queryClient.fetchQuery(options as never)));
  for (const options of queries) {
    const observer = new QueryObserver(queryClient, options as never);
    cleanups.push(observer.subscribe(() => {}));
  }
  // Data the server's report did not vouch for is stale at once, so mounting refetches it.
  await settled(queryClient);
}

/** Resolves once no query of `queryClient` is fetching. */
const settled = (queryClient: QueryClient) =>
  until(() => queryClient.isFetching() === 0, { what: 'the refetches settled' });

/** How many times the query's data was updated (fetched). */
const fetches = (queryClient: QueryClient, queryKey: QueryKey) =>
  queryClient.getQueryCache().find({ queryKey, exact: true })?.state.dataUpdateCount ?? 0;

describe('with cacheHintsLink: the mutation reports its exact targets', () => {
  it('an input target refetches the query of that input only', async () => {
    const queryClient = newQueryClient();
    const { api, client } = mirrored(queryClient, server, 'single');
    const [a, b] = [uid(), uid()];
    const byA = api.post.byId.queryOptions({ id: a });
    const byB = api.post.byId.queryOptions({ id: b });
    const list = api.post.list.queryOptions();
    await mount(queryClient, byA, byB, list);
    const before = server.requests();

    await client.post.rename.mutate({ id: a, title: 'renamed' });
    await until(() => queryClient.getQueryData(byA.queryKey)?.title === 'renamed', {
      what: 'post a refetched',
    });
    await settled(queryClient);
    // The mutation and one refetch; post b and the list were not touched, on either side.
    expect(server.requests() - before).toBe(2);
    expect([server.runs(`byId:${a}`), server.runs(`byId:${b}`), server.runs('list')]).toEqual([2, 1, 1]);
    expect([fetches(queryClient, byB.queryKey), fetches(queryClient, list.queryKey)]).toEqual([1, 1]);
  });

  it("a scoped input target refetches the caller's query of that input only; another user's entry stays cached", async () => {
    const queryClient = newQueryClient();
    const { api, client } = mirrored(queryClient, server, 'single', { user: 'ann' });
    const bobQueries = newQueryClient();
    const bob = mirrored(bobQueries, server, 'single', { user: 'bob' });
    const [a, b] = [uid(), uid()];
    const noteA = api.note.byId.queryOptions({ id: a });
    const noteB = api.note.byId.queryOptions({ id: b });
    await mount(queryClient, noteA, noteB);
    await mount(bobQueries, bob.api.note.byId.queryOptions({ id: a }));
    const before = server.requests();

    await client.note.edit.mutate({ id: a, text: 'hello' });
    await until(() => queryClient.getQueryData(noteA.queryKey)?.text === 'hello', {
      what: "ann's note a refetched",
    });
    await settled(queryClient);
    // The mutation and one refetch: the target reached the browser as { path, input }, not widened.
    expect(server.requests() - before).toBe(2);
    expect(fetches(queryClient, noteB.queryKey)).toBe(1);
    // On the server, ann's entry of note a went (its resolver ran again); bob's is still a hit.
    expect(await bob.client.note.byId.query({ id: a })).toEqual({ id: a, text: '' });
    expect([
      server.runs(`note:${a}:ann`),
      server.runs(`note:${b}:ann`),
      server.runs(`note:${a}:bob`),
    ]).toEqual([2, 1, 1]);
  });

  it('a tag target refetches exactly the queries whose results the server reported with that tag', async () => {
    const queryClient = newQueryClient();
    const { api, client } = mirrored(queryClient, server, 'single');
    const [x1, x2, y1] = [`x${uid()}`, `x${uid()}`, `y${uid()}`];
    const cards = [x1, x2, y1].map((id) => api.post.card.queryOptions({ id }));
    const feed = api.post.feed.queryOptions();
    const byId = api.post.byId.queryOptions({ id: x1 });
    await mount(queryClient, ...cards, feed, byId);
    const before = server.requests();

    await client.post.retitleAuthor.mutate({ author: 'xavier' });
    await until(() => server.runs(`card:${x1}`) === 2 && server.runs(`card:${x2}`) === 2, {
      what: "xavier's cards refetched",
    });
    await settled(queryClient);
    // The mutation and the two cards by xavier, each from the resolver (the server dropped them too).
    expect(server.requests() - before).toBe(3);
    expect([server.runs(`card:${y1}`), server.runs('feed'), server.runs(`byId:${x1}`)]).toEqual([1, 1, 1]);

    await client.post.refreshFeed.mutate();
    await until(() => server.runs('feed') === 2, { what: 'the feed refetched' });
    await settled(queryClient);
    expect(server.requests() - before).toBe(5);
    expect(cards.map((card) => fetches(queryClient, card.queryKey))).toEqual([2, 2, 1]);
  });
});

describe('without cacheHintsLink: the policy carries the static targets and tags', () => {
  function plainClient(queryClient: QueryClient, options: { user?: string; policy?: CachePolicy } = {}) {
    const hints = createCacheHints();
    const policy = options.policy ?? cachePolicy(server.appRouter);
    const dispose = mirrorServerTtl(queryClient, { policy, hints });
    cleanups.push(dispose);
    const headers = options.user === undefined ? {} : { 'x-user': options.user };
    const client = createTRPCClient<AppRouter>({ links: [httpLink({ url: server.url, headers })] });
    return { client, api: createMemoHooks<AppRouter>({ client }) };
  }

  /** Runs a mutation the way useMutation does, so the mutation cache sees it succeed. */
  async function mutate<TInput>(
    queryClient: QueryClient,
    mutationKey: unknown[],
    fn: (input: TInput) => Promise<unknown>,
    input: TInput,
  ) {
    await queryClient.getMutationCache().build(queryClient, { mutationKey, mutationFn: fn }).execute(input);
  }

  it('a static input target refetches that input only', async () => {
    const queryClient = newQueryClient();
    const { api, client } = plainClient(queryClient);
    const other = uid();
    const home = api.post.byId.queryOptions({ id: 'home' });
    const byOther = api.post.byId.queryOptions({ id: other });
    await mount(queryClient, home, byOther);
    const before = server.requests();
    const otherFetches = fetches(queryClient, byOther.queryKey);
    await mutate(
      queryClient,
      api.post.renameHome.mutationKey(),
      (input: { title: string }) => client.post.renameHome.mutate(input),
      {
        title: 'welcome',
      },
    );
    await until(() => queryClient.getQueryData(home.queryKey)?.title === 'welcome', {
      what: 'home refetched',
    });
    await settled(queryClient);
    expect(server.requests() - before).toBe(2);
    expect(server.runs(`byId:${other}`)).toBe(1);
    expect(fetches(queryClient, byOther.queryKey)).toBe(otherFetches);
  });

  it('a static tag target refetches the procedures whose fixed tags carry it, and those whose tags are computed', async () => {
    const queryClient = newQueryClient();
    const { api, client } = plainClient(queryClient);
    const feed = api.post.feed.queryOptions();
    const card = api.post.card.queryOptions({ id: uid() });
    const byId = api.post.byId.queryOptions({ id: uid() });
    await mount(queryClient, feed, card, byId);
    const counts = () => [feed, card, byId].map((options) => fetches(queryClient, options.queryKey));
    const before = counts();
    await mutate(
      queryClient,
      api.post.refreshFeed.mutationKey(),
      () => client.post.refreshFeed.mutate(),
      undefined,
    );
    await until(() => server.runs('feed') === 2, { what: 'the feed refetched' });
    await settled(queryClient);
    // Without a per-result report, a computed-tag procedure may carry any tag: it refetches (from
    // the server's cache: its entry was not tagged 'feed'); byId has no tags and stays.
    expect(counts().map((count, i) => count - before[i]!)).toEqual([1, 1, 0]);
  });

  it('a static input target naming a scope refetches that input: the scope aside, not widened', async () => {
    const serverPolicy = cachePolicy(server.appRouter);
    // The server's policy leaves the scope out (a browser holds one user's queries)…
    expect(serverPolicy['note.resetWelcome']).toEqual({
      invalidates: [{ path: 'note.byId', input: { id: 'welcome' } }],
    });
    // …and a policy that carries one (written by hand, or by a later server) reads the same.
    const policy: CachePolicy = {
      ...serverPolicy,
      'note.resetWelcome': { invalidates: [{ path: 'note.byId', input: { id: 'welcome' }, scope: 'ann' }] },
    };
    const queryClient = newQueryClient();
    const { api, client } = plainClient(queryClient, { user: 'ann', policy });
    const welcome = api.note.byId.queryOptions({ id: 'welcome' });
    const other = api.note.byId.queryOptions({ id: uid() });
    await mount(queryClient, welcome, other);
    const counts = () => [welcome, other].map((options) => fetches(queryClient, options.queryKey));
    const before = counts();
    await mutate(
      queryClient,
      api.note.resetWelcome.mutationKey(),
      () => client.note.resetWelcome.mutate(),
      undefined,
    );
    await until(() => server.runs('note:welcome:ann') === 2, { what: "ann's welcome note refetched" });
    await settled(queryClient);
    expect(counts().map((count, i) => count - before[i]!)).toEqual([1, 0]);
  });
});

describe('server-rendered queries: matched by the tags their server render reported', () => {
  /**
   * A server render of the page, as a server component does it: the procedures run
   * in-process (no HTTP), on the same router and cache as the HTTP server.
   */
  function serverRender() {
    const queryClient = reportServerTtl(new ReactQueryClient());
    const trpc = createTRPCOptionsProxy({ router: server.appRouter, ctx: { user: null }, queryClient });
    return { queryClient, trpc };
  }

  /** The browser's QueryClient, mirrored (with the policy or without), and its tRPC client. */
  function browser(policy: CachePolicy | undefined) {
    const queryClient = newQueryClient();
    return {
      queryClient,
      ...mirrored(queryClient, server, 'single', policy === undefined ? {} : { policy }),
    };
  }

  const policies = [
    ['without a policy', () => undefined],
    ['with the policy (whose computed tags would match any tag)', () => cachePolicy(server.appRouter)],
  ] as const;

  it.each(policies)(
    'a tag target refetches exactly the hydrated queries carrying it, %s',
    async (_, policy) => {
      const [x, y] = [`x${uid()}`, `y${uid()}`];
      pageRequestedAt(T0);
      const render = serverRender();
      await render.queryClient.prefetchQuery(render.trpc.post.card.queryOptions({ id: x }));
      await render.queryClient.prefetchQuery(render.trpc.post.card.queryOptions({ id: y }));
      await render.queryClient.prefetchQuery(render.trpc.post.feed.queryOptions());
      await render.queryClient.prefetchQuery(render.trpc.post.byId.queryOptions({ id: x }));
      const { queryClient, api, client } = browser(policy());
      hydrate(queryClient, overTheWire(dehydrate(render.queryClient)));
      const queries = [
        api.post.card.queryOptions({ id: x }),
        api.post.card.queryOptions({ id: y }),
        api.post.feed.queryOptions(),
        api.post.byId.queryOptions({ id: x }),
      ];
      const before = server.requests();
      await mount(queryClient, ...queries);
      // Fresh until their server entries expire: mounting them asked the server nothing.
      expect(server.requests()).toBe(before);

      await client.post.retitleAuthor.mutate({ author: 'xavier' });
      await until(() => server.runs(`card:${x}`) === 2, { what: "xavier's card refetched" });
      await settled(queryClient);
      // The mutation and xavier's card; yann's card, the feed and the untagged post stay.
      expect(server.requests() - before).toBe(2);
      expect(queries.map((options) => fetches(queryClient, options.queryKey))).toEqual([2, 1, 1, 1]);
      expect([server.runs(`card:${y}`), server.runs('feed'), server.runs(`byId:${x}`)]).toEqual([1, 1, 1]);

      await client.post.refreshFeed.mutate();
      await until(() => server.runs('feed') === 2, { what: 'the feed refetched' });
      await settled(queryClient);
      expect(server.requests() - before).toBe(4);
      expect(queries.map((options) => fetches(queryClient, options.queryKey))).toEqual([2, 1, 2, 1]);
    },
  );

  it('a query still running when the page was dehydrated (streamed) is matched once its report arrives', async () => {
    const [x, y] = [`x${uid()}`, `y${uid()}`];
    const held = { started: gate(), release: gate() };
    server.state.held.set(x, held);
    pageRequestedAt(T0);
    const render = serverRender();
    // y first: the first call of a procedure holds back calls with other inputs until it
    // has learned how the procedure's input is keyed.
    await render.queryClient.prefetchQuery(render.trpc.post.card.queryOptions({ id: y }));
    void render.queryClient.prefetchQuery(render.trpc.post.card.queryOptions({ id: x }));
    await held.started.opened;
    // Not over JSON: the pending query's data and report are promises (React streams them).
    const state = dehydrate(render.queryClient, { shouldDehydrateQuery: () => true });
    const { queryClient, api, client } = browser(undefined);
    hydrate(queryClient, state);
    const [xCard, yCard] = [api.post.card.queryOptions({ id: x }), api.post.card.queryOptions({ id: y })];
    expect(getCacheHint(queryClient, xCard.queryKey)).toBeUndefined();

    held.release.open();
    await until(() => getCacheHint(queryClient, xCard.queryKey) !== undefined, {
      what: "the streamed card's data and report arrived",
    });
    const before = server.requests();
    await mount(queryClient, xCard, yCard);
    expect(server.requests()).toBe(before);

    await client.post.retitleAuthor.mutate({ author: 'yann' });
    await until(() => server.runs(`card:${y}`) === 2, { what: "yann's card refetched" });
    await settled(queryClient);
    expect(server.requests() - before).toBe(2);
    expect([fetches(queryClient, xCard.queryKey), fetches(queryClient, yCard.queryKey)]).toEqual([1, 2]);

    await client.post.retitleAuthor.mutate({ author: 'xavier' });
    await until(() => server.runs(`card:${x}`) === 2, { what: "xavier's streamed card refetched" });
    await settled(queryClient);
    expect(server.requests() - before).toBe(4);
    expect([fetches(queryClient, xCard.queryKey), fetches(queryClient, yCard.queryKey)]).toEqual([2, 2]);
  });

  it('once refetched over HTTP, the tags the link reported for the new data decide, not the hydrated ones', async () => {
    const id = `x${uid()}`;
    pageRequestedAt(T0);
    const render = serverRender();
    await render.queryClient.prefetchQuery(render.trpc.post.card.queryOptions({ id }));
    const { queryClient, api, client } = browser(undefined);
    hydrate(queryClient, overTheWire(dehydrate(render.queryClient)));
    const card = api.post.card.queryOptions({ id });
    await mount(queryClient, card);
    const before = server.requests();

    // The card changes hands: the hydrated data carries author:xavier, the refetched author:yann.
    server.state.authors.set(id, 'yann');
    await client.post.retitleAuthor.mutate({ author: 'xavier' });
    await until(() => queryClient.getQueryData(card.queryKey)?.author === 'yann', {
      what: 'the card refetched over HTTP',
    });
    await settled(queryClient);
    expect(server.requests() - before).toBe(2);
    // On the frozen clock the new data even has the dataUpdatedAt the server render gave
    // the hydrated data: only the link's hint describes it.
    expect(queryClient.getQueryState(card.queryKey)?.dataUpdatedAt).toBe(T0);

    await client.post.retitleAuthor.mutate({ author: 'xavier' });
    await settled(queryClient);
    expect(server.requests() - before).toBe(3);
    expect(queryClient.getQueryState(card.queryKey)?.isInvalidated).toBe(false);

    await client.post.retitleAuthor.mutate({ author: 'yann' });
    await until(() => server.runs(`card:${id}`) === 3, { what: "the card refetched as yann's" });
    await settled(queryClient);
    expect(server.requests() - before).toBe(5);
    expect(fetches(queryClient, card.queryKey)).toBe(3);
  });
});

// @vitest-environment jsdom
/**
 * Precise invalidation in the browser (jsdom) against the real server: after a
 * mutation, exactly the queries its targets name refetch — by path and input, and
 * by the tags the server reported with each result — with `cacheHintsLink` (the
 * mutation's own report) and without it (the static policy). Every query is
 * mounted (an observer), so an invalidated query refetches at once; requests are
 * counted at the server (`httpLink`: one request per call).
 */
import {
  type QueryClient,
  type QueryKey,
  QueryObserver,
  QueryClient as ReactQueryClient,
} from '@tanstack/react-query';
import { createTRPCClient, httpLink } from '@trpc/client';
import { type CachePolicy, createCacheHints, createMemoHooks, mirrorServerTtl } from '@trpc-memory/client';
import { cachePolicy } from '@trpc-memory/server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { until } from '../../packages/server/test/helpers/time.js';
import { type AppRouter, startServer, type TestServer, uid } from './fixture.js';
import { freezeTime, mirrored } from './helpers.js';

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

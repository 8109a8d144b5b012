/**
 * A real tRPC HTTP server on 127.0.0.1:0 (standalone adapter, `cacheHeaders()`)
 * whose router memorizes with TTLs of a minute or so, for the client tests.
 * It counts HTTP requests and resolver runs, and notes when each resolver ran.
 */
import type { AddressInfo } from 'node:net';
import { type AnyTRPCRouter, initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { CacheManager, cacheHeaders, invalidates, MemoryBackend, memorize } from '@trpc-memory/server';
import { z } from 'zod';
import type { Gate } from '../../packages/server/test/helpers/in-flight.js';

/** Seconds, as in an app: the tests run on a frozen clock (`freezeTime`), so no TTL needs to be short. */
export const TTL = { byId: 60, short: 30, long: 90, list: 60, me: 60 } as const;

export interface Context {
  user: string | null;
}

export function makeRouter() {
  const t = initTRPC.context<Context>().create();
  const state = {
    /** Resolver runs per `procedure:input` label. */
    runs: new Map<string, number>(),
    /** When each label's resolver last returned (epoch ms): its cache entry expires `expire` later. */
    resolvedAt: new Map<string, number>(),
    titles: new Map<string, string>(),
    /** Note texts by `<user>:<id>`. */
    notes: new Map<string, string>(),
    /** A card's author where the test changed it (else `x…` ids are xavier's, the others yann's). */
    authors: new Map<string, string>(),
    /**
     * Cards whose resolver opens `started` and then waits for `release`, so that a
     * server render can be dehydrated while it runs.
     */
    held: new Map<string, { started: Gate; release: Gate }>(),
  };
  const ran = (label: string) => {
    state.runs.set(label, (state.runs.get(label) ?? 0) + 1);
    state.resolvedAt.set(label, Date.now());
  };
  const post = (id: string) => ({ id, title: state.titles.get(id) ?? 'first' });

  const appRouter = t.router({
    post: t.router({
      byId: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: TTL.byId }))
        .query(({ input }) => {
          ran(`byId:${input.id}`);
          return post(input.id);
        }),
      short: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: TTL.short }))
        .query(({ input }) => {
          ran(`short:${input.id}`);
          return post(input.id);
        }),
      long: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: TTL.long }))
        .query(({ input }) => {
          ran(`long:${input.id}`);
          return post(input.id);
        }),
      graceful: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: TTL.byId, staleWhileRevalidate: TTL.byId }))
        .query(({ input }) => {
          ran(`graceful:${input.id}`);
          return post(input.id);
        }),
      list: t.procedure.use(memorize({ expire: TTL.list, namespace: 'posts' })).query(() => {
        ran('list');
        return [...state.titles.entries()].map(([id, title]) => ({ id, title }));
      }),
      update: t.procedure
        .input(z.object({ id: z.string(), title: z.string() }))
        .use(invalidates(['post.byId', 'post.list'], { router: (): AnyTRPCRouter => appRouter }))
        .mutation(({ input }) => {
          state.titles.set(input.id, input.title);
          return { ok: true as const };
        }),
      /** Drops exactly the entry of the renamed post (an input target). */
      rename: t.procedure
        .input(z.object({ id: z.string(), title: z.string() }))
        .use(
          invalidates<Context, { id: string }>(
            ({ input }) => [{ path: 'post.byId', input: { id: input.id } }],
            {
              router: (): AnyTRPCRouter => appRouter,
            },
          ),
        )
        .mutation(({ input }) => {
          state.titles.set(input.id, input.title);
          return { ok: true as const };
        }),
      /** A static input target: readable from the policy without cacheHintsLink. */
      renameHome: t.procedure
        .input(z.object({ title: z.string() }))
        .use(invalidates([{ path: 'post.byId', input: { id: 'home' } }]))
        .mutation(({ input }) => {
          state.titles.set('home', input.title);
          return { ok: true as const };
        }),
      /** Tagged by the post it shows and by its author (tags computed from the result). */
      card: t.procedure
        .input(z.object({ id: z.string() }))
        .use(
          memorize({
            expire: TTL.byId,
            tags: ({ data }) => [
              `post:${(data as { id: string }).id}`,
              `author:${(data as { author: string }).author}`,
            ],
          }),
        )
        .query(async ({ input }) => {
          const held = state.held.get(input.id);
          if (held !== undefined) {
            held.started.open();
            await held.release.opened;
          }
          ran(`card:${input.id}`);
          const author = state.authors.get(input.id) ?? (input.id.startsWith('x') ? 'xavier' : 'yann');
          return { ...post(input.id), author };
        }),
      /** A fixed tag. */
      feed: t.procedure.use(memorize({ expire: TTL.list, tags: ['feed'] })).query(() => {
        ran('feed');
        return [...state.titles.keys()];
      }),
      /** Drops every entry of one author's posts (a tag target). */
      retitleAuthor: t.procedure
        .input(z.object({ author: z.string() }))
        .use(invalidates<Context, { author: string }>(({ input }) => [{ tag: `author:${input.author}` }]))
        .mutation(() => ({ ok: true as const })),
      /** A static tag target. */
      refreshFeed: t.procedure.use(invalidates([{ tag: 'feed' }])).mutation(() => ({ ok: true as const })),
      fail: t.procedure
        .input(z.object({ id: z.string() }))
        .use(invalidates(['post.byId']))
        .mutation(() => {
          throw new Error('refused');
        }),
    }),
    plain: t.procedure.input(z.string()).query(({ input }) => {
      ran(`plain:${input}`);
      return input.toUpperCase();
    }),
    me: t.procedure.use(memorize({ expire: TTL.me, scope: (ctx: Context) => ctx.user })).query(({ ctx }) => {
      ran(`me:${ctx.user}`);
      return { user: ctx.user };
    }),
    /** One user's notes: a scoped procedure with input. */
    note: t.router({
      byId: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: TTL.me, scope: (ctx: Context) => ctx.user }))
        .query(({ input, ctx }) => {
          ran(`note:${input.id}:${ctx.user}`);
          return { id: input.id, text: state.notes.get(`${ctx.user}:${input.id}`) ?? '' };
        }),
      /** Drops the caller's own entry of that note (the scope comes from the mutation's context). */
      edit: t.procedure
        .input(z.object({ id: z.string(), text: z.string() }))
        .use(
          invalidates<Context, { id: string }>(
            ({ input }) => [{ path: 'note.byId', input: { id: input.id } }],
            {
              router: (): AnyTRPCRouter => appRouter,
            },
          ),
        )
        .mutation(({ input, ctx }) => {
          state.notes.set(`${ctx.user}:${input.id}`, input.text);
          return { ok: true as const };
        }),
      /** A static target naming a scope: the policy leaves the scope out. */
      resetWelcome: t.procedure
        .use(
          invalidates([{ path: 'note.byId', input: { id: 'welcome' }, scope: 'ann' }], {
            router: (): AnyTRPCRouter => appRouter,
          }),
        )
        .mutation(() => {
          state.notes.delete('ann:welcome');
          return { ok: true as const };
        }),
    }),
  });
  return { appRouter, state };
}

export type AppRouter = ReturnType<typeof makeRouter>['appRouter'];

export interface TestServer {
  url: string;
  /** HTTP requests received so far. */
  requests: () => number;
  /** Resolver runs of one label, e.g. `byId:a`. */
  runs: (label: string) => number;
  /** When the label's resolver last returned (epoch ms). */
  resolvedAt: (label: string) => number;
  state: ReturnType<typeof makeRouter>['state'];
  appRouter: AppRouter;
  close: () => Promise<void>;
}

/** Starts the server; the global cache is reset to a fresh memory backend. */
export async function startServer(options: { headers?: boolean } = {}): Promise<TestServer> {
  CacheManager.init(new MemoryBackend());
  const { appRouter, state } = makeRouter();
  let requests = 0;
  const server = createHTTPServer({
    router: appRouter,
    createContext: ({ req }) => ({ user: (req.headers['x-user'] as string | undefined) ?? null }),
    ...(options.headers === false ? {} : { responseMeta: cacheHeaders() }),
  });
  server.on('request', () => {
    requests++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    runs: (label) => state.runs.get(label) ?? 0,
    resolvedAt: (label) => {
      const at = state.resolvedAt.get(label);
      if (at === undefined) throw new Error(`${label} never ran`);
      return at;
    },
    state,
    appRouter,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** A fresh id per test, so tests never share a cache entry. */
export function uid(): string {
  return Math.random().toString(36).slice(2, 10);
}

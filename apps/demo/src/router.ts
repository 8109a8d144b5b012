/**
 * The demo's tRPC router. `catalog.*` is what an application would have: queries
 * that call a slow, flaky upstream through `ResilientClient` (retries) and are
 * memorized (caching), and a mutation that invalidates them. `demo.*` is only
 * there so the page and the tests can see and steer what happens.
 */

import { initTRPC, TRPCError } from '@trpc/server';
import { clearCache, invalidates, memorize, type ResilientClient } from '@trpc-memory/server';
import { z } from 'zod';
import type { Activity, CallTrace } from './activity.js';
import type { Product, Upstream } from './upstream.js';

export interface RouterDeps {
  /** The upstream's HTTP client (retries, pooling, error mapping). */
  client: ResilientClient;
  /** The upstream service itself: its knobs and counters, for `demo.*`. */
  upstream: Upstream;
  activity: Activity;
  /** `expire` of `catalog.list` and `catalog.byId`, in seconds. */
  expire: { list: number; item: number };
  /** Which cache backend is in use, for display. */
  backend: 'memory' | 'redis';
}

const productSchema = z.object({
  id: z.string(),
  name: z.string(),
  price: z.number(),
  stock: z.number(),
  updatedAt: z.string(),
});
const listSchema = z.object({ products: z.array(productSchema), generatedAt: z.string() });
const itemSchema = z.object({ product: productSchema, generatedAt: z.string() });

/** Builds the router around its dependencies (one per running demo). */
export function createAppRouter(deps: RouterDeps) {
  const { client, upstream, activity, expire } = deps;
  const t = initTRPC.create();

  /**
   * Records every call for the page's timeline. It stands before `memorize`, so it
   * sees cache hits too; the resolver marks the trace when it actually runs.
   */
  const traced = t.middleware(async ({ path, type, getRawInput, next }) => {
    const raw = (await getRawInput().catch(() => undefined)) as { id?: unknown } | undefined;
    const trace = activity.begin(path, typeof raw?.id === 'string' ? raw.id : '');
    const result = await next({ ctx: { trace } });
    activity.end(
      trace,
      result.ok ? undefined : result.error.message,
      type === 'mutation' ? 'mutation' : 'query',
    );
    return result;
  });

  /** Calls upstream through `ResilientClient` (retries, error mapping, schema check). */
  function fetchUpstream<T>(
    trace: CallTrace,
    path: string,
    schema: z.ZodType<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    return activity.upstreamCall(trace, () => client.getJson(path, undefined, { schema, signal }));
  }

  const catalog = t.router({
    /** Every product; cached for `expire.list` seconds. */
    list: t.procedure
      .use(traced)
      .use(memorize({ expire: expire.list }))
      .query(async ({ ctx, signal }) => {
        const body = await fetchUpstream(ctx.trace, 'products', listSchema, signal);
        return { products: body.products, fetchedAt: body.generatedAt };
      }),

    /** One product; cached for `expire.item` seconds per id. */
    byId: t.procedure
      .use(traced)
      .input(z.object({ id: z.string().min(1) }))
      .use(memorize({ expire: expire.item }))
      .query(async ({ ctx, input, signal }) => {
        const body = await fetchUpstream(
          ctx.trace,
          `products/${encodeURIComponent(input.id)}`,
          itemSchema,
          signal,
        );
        return { product: body.product, fetchedAt: body.generatedAt };
      }),

    /**
     * Adds stock. POST is not idempotent, so it is sent once, without retries.
     * On success `invalidates` drops both queries' server cache and tells the
     * client to refetch them.
     */
    restock: t.procedure
      .use(traced)
      .input(z.object({ id: z.string().min(1), amount: z.number().int().min(1).max(100) }))
      .use(invalidates(['catalog.list', 'catalog.byId']))
      .mutation(async ({ ctx, input }): Promise<{ product: Product }> => {
        let response: Response;
        try {
          const url = `${upstream.url}/products/${encodeURIComponent(input.id)}/restock`;
          response = await activity.upstreamCall(ctx.trace, () =>
            fetch(url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ amount: input.amount }),
            }),
          );
        } catch (cause) {
          throw new TRPCError({ code: 'BAD_GATEWAY', message: 'The catalog service is unreachable', cause });
        }
        if (!response.ok) {
          throw new TRPCError({
            code: response.status === 404 ? 'NOT_FOUND' : 'BAD_GATEWAY',
            message: `The catalog service answered ${response.status}`,
          });
        }
        return itemSchema.parse(await response.json());
      }),
  });

  const demo = t.router({
    /** Counters, settings and the recent timeline, polled by the page. */
    state: t.procedure.query(() => ({
      now: Date.now(),
      backend: deps.backend,
      expire: { 'catalog.list': expire.list, 'catalog.byId': expire.item },
      upstream: { url: upstream.url, ...upstream.settings, ...upstream.stats },
      procedures: activity.counters(),
      cacheErrors: activity.cacheErrors,
      events: activity.events(),
    })),

    /** Changes the upstream's behaviour while running. */
    configure: t.procedure
      .input(
        z.object({
          failureRate: z.number().min(0).max(1).optional(),
          latency: z.number().min(0).max(30).optional(),
          down: z.boolean().optional(),
          failNext: z.number().int().min(0).max(100).optional(),
        }),
      )
      .mutation(async ({ input }) => {
        if (input.failureRate !== undefined) upstream.setFailureRate(input.failureRate);
        if (input.latency !== undefined) upstream.setLatency(input.latency);
        if (input.failNext !== undefined) upstream.failNext(input.failNext);
        if (input.down !== undefined) await upstream.setDown(input.down);
        return upstream.settings;
      }),

    /**
     * Drops every cached result (`clearCache()`). `invalidates` tells the page's
     * React Query to drop its copies too, so the next reads go upstream.
     */
    clearCache: t.procedure.use(invalidates(['catalog.list', 'catalog.byId'])).mutation(async () => {
      try {
        await clearCache();
      } catch (cause) {
        // Reads fail open when the backend is down, but a clear cannot: say why.
        throw new TRPCError({
          code: 'SERVICE_UNAVAILABLE',
          message: 'The cache backend is unreachable',
          cause,
        });
      }
      return { cleared: true };
    }),

    /**
     * Zeroes the counters and the timeline, restores the catalog and empties the
     * cache; `invalidates` tells the page, whose queries would otherwise stay fresh.
     */
    reset: t.procedure.use(invalidates(['catalog.list', 'catalog.byId'])).mutation(async () => {
      activity.reset();
      upstream.reset();
      await clearCache().catch(() => undefined);
      return { reset: true };
    }),
  });

  return t.router({ catalog, demo });
}

/** The type the page's typed hooks are built from. */
export type AppRouter = ReturnType<typeof createAppRouter>;

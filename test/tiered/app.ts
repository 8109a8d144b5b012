/**
 * One app instance for the multi-process tests: a tRPC HTTP server on port 0
 * with a memorized procedure over a TieredBackend. The "upstream" is a Redis
 * key every instance reads (`source:<id>`), so all instances share one truth.
 * Prints `{"url": …}` once listening.
 *
 * Env: TIERED_REDIS (a redis:// URL, or a JSON array of cluster nodes),
 * TIERED_BUS_LOSS_TTL (seconds), TIERED_PREFIX.
 */
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { createCache, memorize } from '@trpc-memory/server';
import { TieredBackend } from '@trpc-memory/server/redis';
import { Cluster, Redis } from 'ioredis';
import { z } from 'zod';

const target = process.env.TIERED_REDIS ?? 'redis://127.0.0.1:6379';
const nodes = target.startsWith('[') ? (JSON.parse(target) as { host: string; port: number }[]) : undefined;
const client = nodes === undefined ? new Redis(target) : new Cluster(nodes);
// The app's own handler: a Redis outage must not crash the process.
client.on('error', () => {});
// Fails at once while Redis is down (no queueing), as an upstream that is down would.
const upstream = (
  nodes === undefined
    ? new Redis(target, { enableOfflineQueue: false, maxRetriesPerRequest: 0 })
    : new Cluster(nodes, { enableOfflineQueue: false })
) as Redis | Cluster;
upstream.on('error', () => {});

const backend = new TieredBackend(client, {
  busLossTtl: Number(process.env.TIERED_BUS_LOSS_TTL ?? 5),
  commandTimeout: 0.3,
});
const cache = createCache(backend, { prefix: process.env.TIERED_PREFIX ?? 'app', onError: () => {} });
let runs = 0;

const t = initTRPC.create();
const router = t.router({
  item: t.procedure
    .input(z.object({ id: z.string() }))
    .use(memorize({ expire: 600, cache }))
    .query(async ({ input }) => {
      runs++;
      let version: string | null = null;
      try {
        version = await upstream.get(`source:${input.id}`);
      } catch {
        // The upstream shares Redis in this test: down with it, answer what we can.
      }
      return { id: input.id, version };
    }),
  invalidate: t.procedure.input(z.object({ id: z.string().optional() })).mutation(async ({ input }) => {
    await cache.clear({ namespace: 'item' });
    return { ok: input.id ?? 'all' };
  }),
  state: t.procedure.query(() => ({ runs, busUp: backend.busUp, l1: backend.l1Size })),
});

const server = createHTTPServer({ router });
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  console.log(JSON.stringify({ url: `http://127.0.0.1:${address.port}` }));
});
process.on('SIGTERM', () => process.exit(0));

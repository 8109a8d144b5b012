/**
 * One app instance for the distributed single-flight tests, run as a child process
 * (`node --conditions=@trpc-memory/source --import tsx flight-app.ts`), configured
 * through the environment:
 *
 * - `FLIGHT_REDIS`: a `redis://` URL, or `cluster:<port>,<port>,<port>` (127.0.0.1);
 * - `FLIGHT_PREFIX`: the cache prefix (one per test);
 * - `FLIGHT_RUNS_FILE`: a file this instance appends one line to per resolver run
 *   (appended before the resolver waits, so a run survives a SIGKILL);
 * - `FLIGHT_RESOLVER_MS`: how long the resolver takes;
 * - `FLIGHT_LOCK_TTL`, `FLIGHT_POLL`: `memorize({ distributed: { lockTtl, poll } })`;
 * - `FLIGHT_FAIL_FIRST`: when `1`, the first run across all instances fails
 *   (decided through the runs file's line count, which every instance shares);
 * - `FLIGHT_COMMAND_TIMEOUT`: the backend's `commandTimeout`.
 *
 * Prints `{"url":…}` once listening (createHTTPServer on port 0), then
 * `{"resolving":…}` whenever a resolver starts, and serves until killed.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { createCache, memorize } from '@trpc-memory/server';
import { RedisBackend } from '@trpc-memory/server/redis';
import { Cluster } from 'ioredis';
import { z } from 'zod';

const env = process.env;
const target = env.FLIGHT_REDIS ?? 'redis://127.0.0.1:6379';
const runsFile = env.FLIGHT_RUNS_FILE as string;
const resolverMs = Number(env.FLIGHT_RESOLVER_MS ?? 200);
const commandTimeout = Number(env.FLIGHT_COMMAND_TIMEOUT ?? 2);

const client = target.startsWith('cluster:')
  ? new Cluster(
      target
        .slice('cluster:'.length)
        .split(',')
        .map((port) => ({ host: '127.0.0.1', port: Number(port) })),
    )
  : target;
const backend = new RedisBackend(client, { commandTimeout });
const cache = createCache(backend, {
  prefix: env.FLIGHT_PREFIX ?? 'flight',
  // The tests count failed requests, not cache failures: Redis is killed on purpose.
  onError: (event) => {
    if (env.FLIGHT_DEBUG) console.error(event.operation, String(event.error));
  },
});

function runsSoFar(): number {
  try {
    return readFileSync(runsFile, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

const t = initTRPC.create();
const router = t.router({
  cold: t.procedure
    .input(z.object({ id: z.string() }))
    .use(
      memorize({
        cache,
        expire: 60,
        distributed: { lockTtl: Number(env.FLIGHT_LOCK_TTL ?? 10), poll: Number(env.FLIGHT_POLL ?? 0.2) },
      }),
    )
    .query(async ({ input }) => {
      const first = runsSoFar() === 0;
      appendFileSync(runsFile, `${process.pid} ${input.id}\n`);
      console.log(JSON.stringify({ resolving: input.id, pid: process.pid }));
      await new Promise((resolve) => setTimeout(resolve, resolverMs));
      if (first && env.FLIGHT_FAIL_FIRST === '1') {
        throw new TRPCError({ code: 'BAD_GATEWAY', message: 'upstream down' });
      }
      return { id: input.id, by: process.pid };
    }),
});
export type FlightRouter = typeof router;

// Ready once every master answers, as an app behind a health check would be: a Cluster
// client opens its node connections lazily, and commands on one still opening fail.
for (let attempt = 0; ; attempt++) {
  try {
    await backend.deleteByPrefix(`${env.FLIGHT_PREFIX ?? 'flight'}:warm-up:`);
    break;
  } catch (error) {
    if (attempt > 100) throw error;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const server = createHTTPServer({ router });
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
});

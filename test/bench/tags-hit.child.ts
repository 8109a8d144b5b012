/**
 * One contender of the tags benchmark, alone in its process (a procedure shape the
 * JIT saw alongside others would measure those others too): prints the best ns per
 * memorized call over a few rounds. Run by `tags.bench.ts`, not on its own.
 *
 * Variants `untagged | payload | fixed | computed | scoped` time hits on the memory
 * backend; `miss` and `miss-redis` time misses (a new input every call: read, compute,
 * store) on the memory backend and on Redis (`REDIS_URL`).
 *
 * argv: <server module path> <variant> <calls per round> [rounds = 4]
 */
import { initTRPC } from '@trpc/server';
import { z } from 'zod';
import { payload } from './lib.js';

type ServerModule = typeof import('@trpc-memory/server');
type RedisModule = typeof import('@trpc-memory/server/redis');

const [modulePath, variant, count, roundsArg = '4'] = process.argv.slice(2) as [
  string,
  string,
  string,
  string?,
];
const lib = (await import(modulePath)) as ServerModule;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const misses = variant === 'miss' || variant === 'miss-redis';
/** The `/redis` entry beside `modulePath` (a package name or a sources path). */
async function redisModule(): Promise<RedisModule> {
  const path = modulePath.endsWith('index.ts')
    ? modulePath.replace(/index\.ts$/, 'redis.ts')
    : `${modulePath}/redis`;
  return (await import(path)) as RedisModule;
}
const backend =
  variant === 'miss-redis'
    ? new (await redisModule()).RedisBackend(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
    : // Misses store an entry each: bounded, so the rounds do not grow the heap.
      new lib.MemoryBackend(misses ? { maxEntries: 20_000 } : {});
const cache = lib.createCache(backend, { prefix: `bench-${process.pid}` });
const t = initTRPC.create();
const value = payload();
const small = { ok: true, n: 1 };
const options = {
  untagged: { expire: 60, cache },
  payload: { expire: 60, cache },
  fixed: { expire: 60, cache, tags: ['posts'] },
  computed: {
    expire: 60,
    cache,
    tags: ({ data }: { data: unknown }) => [`post:${(data as { id: string }).id}`],
  },
  scoped: { expire: 60, cache, scope: () => 'user-1' },
  miss: { expire: 60, cache },
  'miss-redis': { expire: 60, cache },
}[variant];
if (options === undefined) throw new Error(`unknown variant ${variant}`);
const result = variant === 'untagged' || misses ? small : value;
const router = t.router({
  q: t.procedure.use(lib.memorize(options as never)).query(() => result),
  // After `.input()`: keyed by the number, a new entry for every new one.
  byNumber: t.procedure
    .input(z.number())
    .use(lib.memorize(options as never))
    .query(() => result),
});
const caller = t.createCallerFactory(router)({});
let next = 0;
const call = misses ? () => caller.byNumber(next++) : () => caller.q();
const n = Number(count);
let best = Number.POSITIVE_INFINITY;
// Warm-up first: the JIT's work then falls outside the rounds an instruction count compares.
for (let i = 0; i < (variant === 'miss-redis' ? 2_000 : 20_000); i++) await call();
for (let round = 0; round < Number(roundsArg); round++) {
  gc();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await call();
  best = Math.min(best, Number(process.hrtime.bigint() - start) / n);
}
if (variant === 'miss-redis') {
  await cache.clear();
  await backend.close?.();
}
console.log(JSON.stringify({ nsPerCall: best }));

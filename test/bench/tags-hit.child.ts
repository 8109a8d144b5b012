/**
 * One contender of the tags benchmark, alone in its process (a procedure shape the
 * JIT saw alongside others would measure those others too): prints the best ns per
 * memorized hit over a few rounds. Run by `tags.bench.ts`, not on its own.
 *
 * argv: <server module path> <variant: untagged | payload | fixed | computed | scoped> <hits per round> [rounds = 4]
 */
import { initTRPC } from '@trpc/server';
import { payload } from './lib.js';

type ServerModule = typeof import('@trpc-memory/server');

const [modulePath, variant, count, roundsArg = '4'] = process.argv.slice(2) as [
  string,
  string,
  string,
  string?,
];
const lib = (await import(modulePath)) as ServerModule;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const cache = lib.createCache(new lib.MemoryBackend(), { prefix: 'bench' });
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
}[variant];
if (options === undefined) throw new Error(`unknown variant ${variant}`);
const result = variant === 'untagged' ? small : value;
const router = t.router({ q: t.procedure.use(lib.memorize(options as never)).query(() => result) });
const caller = t.createCallerFactory(router)({});
const n = Number(count);
let best = Number.POSITIVE_INFINITY;
// Warm-up first: the JIT's work then falls outside the rounds an instruction count compares.
for (let i = 0; i < 20_000; i++) await caller.q();
for (let round = 0; round < Number(roundsArg); round++) {
  gc();
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await caller.q();
  best = Math.min(best, Number(process.hrtime.bigint() - start) / n);
}
console.log(JSON.stringify({ nsPerHit: best }));

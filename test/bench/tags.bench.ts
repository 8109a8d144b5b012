/**
 * tags: what precise invalidation costs, measured against baselines in the same run.
 *
 * (a) an untagged memorized hit, public and scoped, the committed code (HEAD) ÷ the
 *     code of `main` (or `TAGS_BASELINE_REF`), each from a `git archive`: it must not
 *     get slower;
 * (b) a hit on a tagged entry ÷ an untagged hit, memory backend (fixed and computed tags).
 *     Memory-backend hits are timed one contender per process (`tags-hit.child.ts`):
 *     procedures of several shapes in one process make the JIT's code for each
 *     depend on the order they ran in (±30% here);
 * (c) the same on Redis, where a fixed tag's token is read in the entry's round trip,
 *     and a computed tag's once the memoizer has seen the entry (stored or read it),
 *     and a scoped hit, which reads its entry only;
 * (c') the first hit of each key in a process (a fresh memoizer: it has seen no entry),
 *     computed tags ÷ untagged, on Redis: while no tag was invalidated since the
 *     entries were stored, and after one was (another tag: the epoch moved);
 * (d) invalidating a tag carried by 100,000 entries on Redis: its duration and the p99
 *     of concurrent reads meanwhile, for the mechanism used (a token per tag, checked on
 *     read) and for the alternative (a Redis set of keys per tag, deleted in batches);
 * (e) a miss (read, compute, store), HEAD ÷ `main` (or `TAGS_BASELINE_REF`), on memory
 *     and on Redis: what the namespace's fence (read before computing and after
 *     storing) adds to the miss path.
 *
 * `npm run bench -- tags` (with `REDIS_URL`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initTRPC } from '@trpc/server';
import { createCache, invalidate, memorize, memorizeFn } from '@trpc-memory/server';
import { RedisBackend } from '@trpc-memory/server/redis';
import { Redis } from 'ioredis';
import { bestOf, opsPerSecond, payload, report } from './lib.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The server package's sources at `ref`, with the TypeScript config they build with, resolving this repository's dependencies. */
function sourcesAt(ref: string): { entry: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'trpc-memory-bench-'));
  const archive = execFileSync(
    'git',
    [
      'archive',
      ref,
      'packages/server/src',
      'packages/server/package.json',
      'packages/server/tsconfig.json',
      'tsconfig.json',
    ],
    { cwd: repo, maxBuffer: 64 * 1024 * 1024 },
  );
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  // The server package's own dependencies (ioredis, for the Redis contenders), when npm put them there.
  const own = join(repo, 'packages/server/node_modules');
  if (existsSync(own)) symlinkSync(own, join(dir, 'packages/server/node_modules'));
  return {
    entry: join(dir, 'packages/server/src/index.ts'),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const child = join(dirname(fileURLToPath(import.meta.url)), 'tags-hit.child.ts');

/** ns per memorized call of one variant, in a process of its own (see tags-hit.child.ts). */
function hitCost(modulePath: string, variant: string, hits: number): number {
  const out = execFileSync(
    process.execPath,
    [
      '--conditions=@trpc-memory/source',
      '--expose-gc',
      '--import',
      'tsx',
      child,
      modulePath,
      variant,
      String(hits),
    ],
    { cwd: repo, encoding: 'utf8' },
  );
  return (JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { nsPerCall: number }).nsPerCall;
}

/** The best (lowest) ns per hit of each contender over `rounds`, interleaved so that drift hits all alike. */
function bestCosts<K extends string>(rounds: number, contenders: Record<K, () => number>): Record<K, number> {
  const best = {} as Record<K, number>;
  for (let round = 0; round < rounds; round++) {
    for (const name of Object.keys(contenders) as K[]) {
      best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, contenders[name]());
    }
  }
  return best;
}

/** (a) */
async function untaggedBeforeAfter(): Promise<void> {
  const ref = process.env.TAGS_BASELINE_REF ?? 'main';
  const before = sourcesAt(ref);
  const after = sourcesAt('HEAD');
  try {
    const ns = bestCosts(3, {
      before: () => hitCost(before.entry, 'untagged', 200_000),
      after: () => hitCost(after.entry, 'untagged', 200_000),
      beforePayload: () => hitCost(before.entry, 'payload', 100_000),
      afterPayload: () => hitCost(after.entry, 'payload', 100_000),
      beforeScoped: () => hitCost(before.entry, 'scoped', 100_000),
      afterScoped: () => hitCost(after.entry, 'scoped', 100_000),
    });
    const line = (name: string, b: number, a: number, target?: number) =>
      report(
        `${name}, HEAD / ${ref} (memory, createCaller)`,
        b / a,
        'x',
        target === undefined ? undefined : { op: '>=', value: target },
        `${a.toFixed(0)} vs ${b.toFixed(0)} ns/hit`,
      );
    line('untagged hit', ns.before, ns.after, 0.97);
    line('untagged hit, 1 KB payload', ns.beforePayload, ns.afterPayload, 0.97);
    line('scoped hit, 1 KB', ns.beforeScoped, ns.afterScoped, 0.97);
  } finally {
    before.dispose();
    after.dispose();
  }
}

/** (b) */
async function taggedOnMemory(): Promise<void> {
  const here = '@trpc-memory/server';
  const ns = bestCosts(3, {
    untagged: () => hitCost(here, 'payload', 100_000),
    fixed: () => hitCost(here, 'fixed', 100_000),
    computed: () => hitCost(here, 'computed', 100_000),
  });
  const detail = (name: keyof typeof ns) =>
    `${ns[name].toFixed(0)} vs ${ns.untagged.toFixed(0)} ns/hit, 1 KB`;
  report(
    'tagged hit (fixed tag) / untagged hit, memory',
    ns.untagged / ns.fixed,
    'x',
    { op: '>=', value: 0.8 },
    detail('fixed'),
  );
  report(
    'tagged hit (computed tag) / untagged hit, memory',
    ns.untagged / ns.computed,
    'x',
    { op: '>=', value: 0.8 },
    detail('computed'),
  );
}

/** Commands Redis executed per call of `fn`, from INFO commandstats. */
async function commandsPer(admin: Redis, fn: () => Promise<unknown>, n: number): Promise<number> {
  const calls = async () => {
    const info = await admin.info('commandstats');
    return [...info.matchAll(/cmdstat_(get|mget|exists):calls=(\d+)/g)].reduce(
      (sum, m) => sum + Number(m[2]),
      0,
    );
  };
  const before = await calls();
  for (let i = 0; i < n; i++) await fn();
  return ((await calls()) - before) / n;
}

/** (c) */
async function taggedOnRedis(): Promise<void> {
  const backend = new RedisBackend(REDIS_URL);
  const admin = new Redis(REDIS_URL);
  const cache = createCache(backend, { prefix: `bench-tags-${process.pid}` });
  try {
    const t = initTRPC.create();
    const value = payload();
    const router = t.router({
      untagged: t.procedure.use(memorize({ expire: 60, cache })).query(() => value),
      fixed: t.procedure.use(memorize({ expire: 60, cache, tags: ['posts'] })).query(() => value),
      computed: t.procedure
        .use(memorize({ expire: 60, cache, tags: ({ data }) => [`post:${(data as { id: string }).id}`] }))
        .query(() => value),
      scoped: t.procedure.use(memorize({ expire: 60, cache, scope: () => 'user-1' })).query(() => value),
    });
    const caller = t.createCallerFactory(router)({});
    const ops = await bestOf(5, {
      untagged: () => opsPerSecond(() => caller.untagged(), 3_000, 500),
      fixed: () => opsPerSecond(() => caller.fixed(), 3_000, 500),
      computed: () => opsPerSecond(() => caller.computed(), 3_000, 500),
      scoped: () => opsPerSecond(() => caller.scoped(), 3_000, 500),
    });
    const detail = (name: keyof typeof ops) =>
      `${(1e6 / ops[name]).toFixed(0)} vs ${(1e6 / ops.untagged).toFixed(0)} µs/hit sequential`;
    report(
      'tagged hit (fixed tag) / untagged hit, Redis',
      ops.fixed / ops.untagged,
      'x',
      undefined,
      detail('fixed'),
    );
    report(
      'tagged hit (computed tag) / untagged hit, Redis',
      ops.computed / ops.untagged,
      'x',
      undefined,
      detail('computed'),
    );
    report('scoped hit / public hit, Redis', ops.scoped / ops.untagged, 'x', undefined, detail('scoped'));
    for (const name of ['untagged', 'fixed', 'computed', 'scoped'] as const) {
      const commands = await commandsPer(admin, () => caller[name](), 500);
      report(
        `Redis reads per ${name} hit`,
        commands,
        '',
        undefined,
        name === 'untagged' ? '' : name === 'scoped' ? 'its entry only' : 'sent together: one round trip',
      );
    }
  } finally {
    await cache.clear();
    await backend.close();
    await admin.quit();
  }
}

/** (c') */
async function firstHitsOnRedis(): Promise<void> {
  const backend = new RedisBackend(REDIS_URL);
  const admin = new Redis(REDIS_URL);
  const cache = createCache(backend, { prefix: `bench-tags-first-${process.pid}` });
  const KEYS = 1_000;
  const value = payload();
  // Each call makes a memoizer that has seen no entry: what a fresh process has.
  const untagged = () => memorizeFn({ cache, namespace: 'plain', expire: 600 })(async (_i: number) => value);
  const computed = () =>
    memorizeFn({ cache, namespace: 'tagged', expire: 600, tags: ({ input }) => [`item:${input[0]}`] })(
      async (_i: number) => value,
    );
  /** µs per hit over every key, read once each by a fresh memoizer. */
  const firstHits = async (fresh: () => (i: number) => Promise<unknown>) => {
    const load = fresh();
    const start = performance.now();
    for (let i = 0; i < KEYS; i++) await load(i);
    return ((performance.now() - start) * 1000) / KEYS;
  };
  try {
    const [fillPlain, fillTagged] = [untagged(), computed()];
    for (let i = 0; i < KEYS; i++) await Promise.all([fillPlain(i), fillTagged(i)]);
    const measure = async (when: string, detail: string) => {
      const best = { untagged: Number.POSITIVE_INFINITY, computed: Number.POSITIVE_INFINITY };
      for (let round = 0; round < 5; round++) {
        best.untagged = Math.min(best.untagged, await firstHits(untagged));
        best.computed = Math.min(best.computed, await firstHits(computed));
      }
      report(
        `first hit (computed tag) / untagged first hit, Redis, ${when}`,
        best.untagged / best.computed,
        'x',
        undefined,
        `${best.computed.toFixed(0)} vs ${best.untagged.toFixed(0)} µs/hit sequential`,
      );
      const load = computed();
      let i = 0;
      report(
        `Redis reads per first hit (computed tag), ${when}`,
        await commandsPer(admin, () => load(i++), KEYS),
        '',
        undefined,
        detail,
      );
    };
    await measure('no tag invalidated since', 'the entry and the epoch: one round trip');
    await invalidate([{ tag: 'unrelated' }], { cache });
    await measure('after a tag invalidation', 'the entry and the epoch, then its tag');
  } finally {
    await cache.clear();
    await backend.close();
    await admin.quit();
  }
}

function p99(samples: number[]): number {
  const sorted = samples.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

/** Reads `read()` from `concurrency` workers until `done()`, returning each read's latency in ms. */
async function readWhile(
  read: () => Promise<unknown>,
  done: () => boolean,
  concurrency: number,
): Promise<number[]> {
  const latencies: number[] = [];
  const worker = async () => {
    while (!done()) {
      const start = performance.now();
      await read();
      latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latencies;
}

/** (d) */
async function invalidateBigTag(): Promise<void> {
  const N = 100_000;
  const backend = new RedisBackend(REDIS_URL);
  const raw = new Redis(REDIS_URL);
  const readerBackend = new RedisBackend(REDIS_URL);
  const prefix = `bench-bigtag-${process.pid}`;
  const cache = createCache(backend, { prefix });
  const readerCache = createCache(readerBackend, { prefix });
  try {
    // Entries of one tag, stored by memorizeFn, plus untagged ones that readers hit meanwhile.
    const load = memorizeFn({ cache, namespace: 'item', expire: 600, tags: ['big'] })(async (i: number) => ({
      i,
    }));
    const other = memorizeFn({ cache: readerCache, namespace: 'other', expire: 600 })(async (i: number) => ({
      i,
    }));
    for (let i = 0; i < N; i += 2_000)
      await Promise.all(Array.from({ length: 2_000 }, (_, j) => load(i + j)));
    await Promise.all(Array.from({ length: 100 }, (_, i) => other(i)));
    let k = 0;
    const readOther = () => other(k++ % 100);

    const baselineLatencies = await (async () => {
      const until = performance.now() + 300;
      return readWhile(readOther, () => performance.now() > until, 8);
    })();

    // Tokens: one invalidation deletes the epoch, the tag's token, then the epoch again.
    let finished = false;
    const start = performance.now();
    const during = readWhile(readOther, () => finished && performance.now() - start > 300, 8);
    await invalidate([{ tag: 'big' }], { cache });
    const tookTokens = performance.now() - start;
    finished = true;
    const tokenLatencies = await during;
    if ((await load(7)) === undefined) throw new Error('bench: lost a value');

    // The alternative: a set of keys per tag, deleted in batches (SSCAN + UNLINK).
    const setKey = `${prefix}:bench-tagset`;
    const keys = Array.from({ length: N }, (_, i) => `${prefix}:set-entry:${i}`);
    for (let i = 0; i < N; i += 5_000) {
      const chunk = keys.slice(i, i + 5_000);
      const pipeline = raw.pipeline();
      for (const key of chunk) pipeline.set(key, '{"i":1}', 'EX', 600);
      pipeline.sadd(setKey, ...chunk);
      await pipeline.exec();
    }
    let setsDone = false;
    const setStart = performance.now();
    const setDuring = readWhile(readOther, () => setsDone && performance.now() - setStart > 300, 8);
    let cursor = '0';
    do {
      const [next, members] = await raw.sscan(setKey, cursor, 'COUNT', 1_000);
      cursor = next;
      if (members.length > 0) await raw.unlink(...members);
    } while (cursor !== '0');
    await raw.unlink(setKey);
    const tookSets = performance.now() - setStart;
    setsDone = true;
    const setLatencies = await setDuring;

    report(
      'invalidate a tag of 100,000 entries, Redis (tokens)',
      tookTokens,
      ' ms',
      undefined,
      'DEL of the epoch, of the tag, of the epoch again',
    );
    report(
      '  p99 of concurrent reads meanwhile (tokens)',
      p99(tokenLatencies),
      ' ms',
      { op: '<=', value: 5 },
      `${tokenLatencies.length} reads; p99 before: ${p99(baselineLatencies).toFixed(2)} ms`,
    );
    report(
      'invalidate a tag of 100,000 entries, Redis (set of keys)',
      tookSets,
      ' ms',
      undefined,
      'SSCAN + UNLINK by 1,000',
    );
    report(
      '  p99 of concurrent reads meanwhile (set of keys)',
      p99(setLatencies),
      ' ms',
      { op: '<=', value: 5 },
      `${setLatencies.length} reads`,
    );
  } finally {
    await cache.clear();
    await backend.close();
    await readerBackend.close();
    await raw.quit();
  }
}

/** (e) */
async function missBeforeAfter(): Promise<void> {
  const ref = process.env.TAGS_BASELINE_REF ?? 'main';
  const before = sourcesAt(ref);
  const after = sourcesAt('HEAD');
  try {
    const ns = bestCosts(3, {
      before: () => hitCost(before.entry, 'miss', 20_000),
      after: () => hitCost(after.entry, 'miss', 20_000),
      beforeRedis: () => hitCost(before.entry, 'miss-redis', 2_000),
      afterRedis: () => hitCost(after.entry, 'miss-redis', 2_000),
    });
    report(
      `miss, HEAD / ${ref} (memory, createCaller)`,
      ns.before / ns.after,
      'x',
      undefined,
      `${ns.after.toFixed(0)} vs ${ns.before.toFixed(0)} ns/miss`,
    );
    report(
      `miss, HEAD / ${ref} (Redis, sequential)`,
      ns.beforeRedis / ns.afterRedis,
      'x',
      undefined,
      `${(ns.afterRedis / 1000).toFixed(0)} vs ${(ns.beforeRedis / 1000).toFixed(0)} µs/miss`,
    );
  } finally {
    before.dispose();
    after.dispose();
  }
}

export default async function tagsBench(): Promise<void> {
  await untaggedBeforeAfter();
  await taggedOnMemory();
  await taggedOnRedis();
  await firstHitsOnRedis();
  await invalidateBigTag();
  await missBeforeAfter();
}

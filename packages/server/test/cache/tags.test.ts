/**
 * Tag state: the key shapes (no collision with any namespace, scope,
 * `set()` key or other prefix; distinct tags never meet), guarded entries in the
 * codec, the hints a memoizer keeps of computed tags (bounded), the round trips of
 * a tagged hit on the wire (ioredis, node-redis, a Cluster), and what a failing
 * backend does to guards (a miss, never a stale hit; `invalidate()` rejects).
 */
import { randomUUID } from 'node:crypto';
import { initTRPC } from '@trpc/server';
import fc from 'fast-check';
import { Cluster } from 'ioredis';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RedisBackend } from '../../src/backends/redis.js';
import type { CacheBackend } from '../../src/backends/types.js';
import { type CacheErrorEvent, createCache } from '../../src/cache/cache.js';
import { decodeEntry, encodeEntry } from '../../src/cache/codec.js';
import {
  EPOCH_STATE,
  namespacePart,
  plainKeyPart,
  prefixPart,
  rawInputKey,
  scopeSegment,
  stableKey,
  tagStateKey,
  userKeySegment,
} from '../../src/cache/key.js';
import { GuardHints } from '../../src/cache/tags.js';
import { CodecError } from '../../src/errors.js';
import { invalidate } from '../../src/middleware/invalidation.js';
import { memorize } from '../../src/middleware/memorize.js';
import { memorizeFn } from '../../src/middleware/memorize-fn.js';
import { trickyString, typedValue } from '../helpers/arbitraries.js';
import { type ReplyHolder, replyHolder } from '../helpers/held-replies.js';
import {
  closedPort,
  patient,
  type RedisCluster,
  startRedisCluster,
  testPort,
  untilClusterServes,
} from '../helpers/redis-server.js';
import { until } from '../helpers/time.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Ports reserved for this file.
const CLUSTER_PORTS: [number, number, number] = [testPort(17231), testPort(17232), testPort(17233)];

describe('state keys', () => {
  const part = trickyString(8);
  const nonEmpty = trickyString(8, 1);

  it('meet no entry key, namespace, scope or set() key of any prefix, and each other only when equal (property)', () => {
    fc.assert(
      fc.property(
        nonEmpty,
        nonEmpty,
        nonEmpty,
        part,
        part,
        typedValue,
        fc.constantFrom<'tag' | 'epoch'>('tag', 'epoch'),
        (prefix, otherPrefix, namespace, scope, setKey, input, kind) => {
          const head = `${prefixPart(prefix)}:`;
          const state = head + (kind === 'tag' ? tagStateKey(setKey) : EPOCH_STATE);
          const namespaceHead = `${head}${namespacePart(namespace)}:`;
          // clear({ namespace }) is deleteByPrefix(namespaceHead): it never reaches state.
          expect(state.startsWith(namespaceHead)).toBe(false);
          // No entry, scoped entry or set()/get() key of this prefix or another is a state key.
          for (const entry of [
            namespaceHead + stableKey(input),
            namespaceHead + rawInputKey(input),
            namespaceHead + scopeSegment(scope) + userKeySegment(setKey),
            head + plainKeyPart(setKey),
            `${prefixPart(otherPrefix)}:${plainKeyPart(setKey)}`,
          ]) {
            expect(entry).not.toBe(state);
          }
          // Nor is the state of one prefix under another prefix's clear().
          if (otherPrefix !== prefix) expect(state.startsWith(`${prefixPart(otherPrefix)}:`)).toBe(false);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('map distinct tags to distinct keys (property)', () => {
    fc.assert(
      fc.property(nonEmpty, nonEmpty, (a, b) => {
        expect(tagStateKey(a) === tagStateKey(b)).toBe(a === b);
      }),
      { numRuns: 2_000 },
    );
    // Well-formed text whatever the tag: what Redis stores as UTF-8, byte for byte.
    expect(tagStateKey('a\uD800:b%')).toBe('%T:a%uD800:b%25');
  });
});

describe('guarded entries in the codec', () => {
  it('round-trip their tags and guards, and leave unguarded entries as they were', () => {
    const guarded = { tags: ['post:1', 'a\uD800,b c'], guards: [['%T:post:1', 'token\n1'] as const] };
    const raw = encodeEntry({ id: 1, at: new Date(5) }, 1234, guarded);
    expect(decodeEntry(raw)).toEqual({ value: { id: 1, at: new Date(5) }, expiresAt: 1234, guarded });
    expect(encodeEntry({ id: 1 }, undefined)).toBe('|J{"id":1}');
    expect(decodeEntry('|J{"id":1}')).toEqual({ value: { id: 1 }, expiresAt: undefined });
    expect(() => decodeEntry('|G[["t"],[["k"]]]\nJ1')).toThrow(/bad guards/);
    expect(() => decodeEntry('|G[[],[]]J1')).toThrow(/unterminated guards/);
  });

  it('round-trip the epoch stamp of computed tags, and refuse one that names no guard', () => {
    const guarded = {
      tags: ['posts', 'post:1'],
      guards: [['%T:posts', 'a'] as const, ['%T:post:1', 'b'] as const],
      epoch: ['e\u0000"1', 1] as const,
    };
    const raw = encodeEntry([1], undefined, guarded);
    expect(decodeEntry(raw)).toEqual({ value: [1], expiresAt: undefined, guarded });
    for (const stamp of ['["e",3]', '["e",-1]', '["e",0.5]', '[1,0]', '["e"]', '"e"', '["e",0,0]']) {
      expect(() => decodeEntry(`|G[[],[["k","t"],["l","u"]],${stamp}]\nJ1`)).toThrow(/bad guards/);
    }
    expect(decodeEntry('|G[[],[["k","t"]],["e",1]]\nJ1').guarded?.epoch).toEqual(['e', 1]);
  });

  it('round-trip any tags, guards and stamp, and take a third header field only when it is a stamp of those guards (property)', () => {
    const text = trickyString(6);
    fc.assert(
      fc.property(
        fc.array(text, { maxLength: 3 }),
        fc.array(fc.tuple(text, text), { maxLength: 3 }),
        text,
        fc.nat(),
        fc.jsonValue({ maxDepth: 2 }),
        (tags, guards, epoch, at, junk) => {
          const guarded = { tags, guards, epoch: [epoch, at % (guards.length + 1)] as const };
          expect(decodeEntry(encodeEntry({ a: 1 }, 5, guarded))).toEqual({
            value: { a: 1 },
            expiresAt: 5,
            guarded,
          });
          const stamp =
            Array.isArray(junk) &&
            junk.length === 2 &&
            typeof junk[0] === 'string' &&
            Number.isInteger(junk[1]) &&
            (junk[1] as number) >= 0 &&
            (junk[1] as number) <= guards.length;
          const raw = `|G${JSON.stringify([tags, guards, junk])}\nJ1`;
          if (stamp) expect(decodeEntry(raw).guarded?.epoch).toEqual(junk);
          else expect(() => decodeEntry(raw)).toThrow(CodecError);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('the hints of a memoizer (GuardHints)', () => {
  const guards = (...keys: string[]) => keys.map((key) => [key, 'token'] as const);

  it('remember the state keys of an entry beyond the known ones, and allocate nothing while they stay the same', () => {
    const hints = new GuardHints();
    hints.see('k', guards('%T:fixed', '%T:post:1'), ['%T:fixed']);
    const hint = hints.of('k');
    expect(hint).toEqual(['%T:post:1']);
    hints.see('k', guards('%T:fixed', '%T:post:1'), ['%T:fixed']);
    expect(hints.of('k')).toBe(hint);
    // The tags changed: the hint follows; none beyond the known ones: nothing is kept.
    hints.see('k', guards('%T:fixed', '%T:post:2', '%T:a'), ['%T:fixed']);
    expect(hints.of('k')).toEqual(['%T:post:2', '%T:a']);
    hints.see('k', guards('%T:fixed'), ['%T:fixed']);
    expect(hints.of('k')).toBeUndefined();
    hints.see('other', guards('%T:fixed'), ['%T:fixed']);
    expect(hints.size).toBe(0);
  });

  it('stay bounded in entries and bytes, keep the keys read lately, and skip a hint too large to keep', () => {
    const hints = new GuardHints();
    hints.see('hot', guards('%T:hot'), []);
    for (let i = 0; i < 20_000; i++) {
      hints.see(`k${i}`, guards(`%T:${i}`), []);
      // Read now and then, as a key hit all the time is: it stays.
      if (i % 1_000 === 0) expect(hints.of('hot')).toEqual(['%T:hot']);
    }
    expect(hints.size).toBeLessThanOrEqual(4_096);
    expect(hints.of('hot')).toEqual(['%T:hot']);
    expect(hints.of('k0')).toBeUndefined();
    expect(hints.of('k19999')).toEqual(['%T:19999']);
    // Long keys: fewer of them fit (bytes), still bounded.
    const long = 'x'.repeat(2_000);
    for (let i = 0; i < 2_000; i++) hints.see(`${long}${i}`, guards(`%T:${long}${i}`), []);
    expect(hints.size).toBeLessThanOrEqual(2 * Math.ceil(512_000 / 4_000) + 2);
    hints.see('huge', guards(...Array.from({ length: 100 }, (_, i) => `%T:${long}${i}`)), []);
    expect(hints.of('huge')).toBeUndefined();
  });
});

/** The GET commands among `commands`, by key. */
const gets = (commands: string[][]) =>
  commands.filter((command) => command[0] === 'GET').map((command) => command[1] as string);

interface Wire {
  /** The backend, connected through the proxies. */
  backend: RedisBackend;
  holders: ReplyHolder[];
  dispose(): Promise<void>;
}

/** A proxy in front of the Redis of `REDIS_URL`. */
function holderOfRedis(): Promise<ReplyHolder> {
  const { hostname, port } = new URL(REDIS_URL);
  return replyHolder({ host: hostname, port: Number(port || 6379) });
}

let cluster: RedisCluster | undefined;
const wires: [string, () => Promise<Wire>][] = [
  [
    'ioredis',
    async () => {
      const holder = await holderOfRedis();
      const backend = new RedisBackend(`redis://127.0.0.1:${holder.port}`, patient);
      const dispose = async () => {
        await backend.close();
        await holder.close();
      };
      return { backend, holders: [holder], dispose };
    },
  ],
  [
    'node-redis',
    async () => {
      const holder = await holderOfRedis();
      const backend = new RedisBackend(createClient({ url: `redis://127.0.0.1:${holder.port}` }), patient);
      const dispose = async () => {
        await backend.close();
        await holder.close();
      };
      return { backend, holders: [holder], dispose };
    },
  ],
  [
    'a Redis Cluster (ioredis)',
    async () => {
      cluster = await startRedisCluster(CLUSTER_PORTS);
      const holders = await Promise.all(cluster.nodes.map((node) => replyHolder(node)));
      // Every node as the cluster announces it, reached through its proxy.
      const natMap = Object.fromEntries(
        cluster.nodes.map((node, i) => [
          `${node.host}:${node.port}`,
          { host: '127.0.0.1', port: holders[i]!.port },
        ]),
      );
      const client = new Cluster(
        holders.map((holder) => ({ host: '127.0.0.1', port: holder.port })),
        { natMap, redisOptions: { connectTimeout: 2_000 } },
      );
      const backend = new RedisBackend(client, patient);
      await client.ping();
      await untilClusterServes(backend);
      const dispose = async () => {
        await backend.close();
        client.disconnect();
        await Promise.all(holders.map((holder) => holder.close()));
        await cluster?.stop();
      };
      return { backend, holders, dispose };
    },
  ],
];

describe.each(wires)('a hit on an entry with computed tags, on the wire: %s', (_name, make) => {
  let wire: Wire;
  beforeAll(async () => {
    wire = await make();
  }, 60_000);
  afterAll(() => wire?.dispose());

  /**
   * Runs `call` with every reply held until `first` reads have been sent, then lets
   * the replies through: `together` are the reads sent before any reply (one round
   * trip), `all` every read of the call, each named by `name`.
   */
  async function roundTrips(
    call: () => Promise<unknown>,
    first: number,
    name: (key: string) => string,
  ): Promise<{ together: string[]; all: string[] }> {
    const sent = (of: (holder: ReplyHolder) => string[][]) =>
      wire.holders.flatMap((holder) => gets(of(holder)));
    for (const holder of wire.holders) holder.hold();
    const pending = call();
    try {
      await until(() => sent((holder) => holder.beforeRelease).length >= first, {
        what: `${first} reads sent before any reply`,
      });
    } finally {
      for (const holder of wire.holders) holder.release();
    }
    await pending;
    return {
      together: sent((holder) => holder.beforeRelease)
        .map(name)
        .sort(),
      all: sent((holder) => holder.commands)
        .map(name)
        .sort(),
    };
  }

  /** A procedure with a tag computed from its result, as two processes run it (each its own memorize()). */
  function setup() {
    const prefix = `wire-${randomUUID().slice(0, 8)}`;
    const cache = createCache(wire.backend, { prefix });
    let runs = 0;
    const t = initTRPC.create();
    const caller = () =>
      t.createCallerFactory(
        t.router({
          q: t.procedure
            .use(
              memorize({
                expire: 60,
                cache,
                namespace: 'post',
                key: () => 'seven',
                tags: ({ data }) => [`post:${(data as { id: string }).id}`],
              }),
            )
            .query(() => {
              runs++;
              return { id: '7' };
            }),
        }),
      )({});
    /** A read's key as the test names it: `entry`, `epoch` or the tag. */
    const name = (key: string) => {
      const state = key.slice(prefix.length + 1);
      if (state === EPOCH_STATE) return 'epoch';
      if (state.startsWith('%T:')) return state.slice(3);
      return state.startsWith('post:') || state.startsWith('load:') ? 'entry' : key;
    };
    return { cache, callers: [caller(), caller()] as const, runs: () => runs, name };
  }

  it('from the second hit on, the entry read and its tag reads leave together: one round trip', async () => {
    const { callers, runs, name, cache } = setup();
    const [c] = callers;
    await c.q(); // stored: this process now knows the entry's tags
    await c.q();
    const { together, all } = await roundTrips(() => c.q(), 2, name);
    expect(together).toEqual(['entry', 'post:7']);
    // Nothing was read once the replies came back.
    expect(all).toEqual(together);
    expect(runs()).toBe(1);
    await cache.clear();
  });

  it('the first hit in another process reads the epoch with the entry, which vouches for its tags while none was invalidated: one round trip', async () => {
    const { callers, runs, name, cache } = setup();
    const [a, b] = callers;
    await a.q();
    const first = await roundTrips(() => b.q(), 2, name);
    expect(first.together).toEqual(['entry', 'epoch']);
    expect(first.all).toEqual(first.together);
    // From its next hit on, it reads the tag with the entry instead.
    const next = await roundTrips(() => b.q(), 2, name);
    expect(next.all).toEqual(['entry', 'post:7']);
    expect(runs()).toBe(1);
    await cache.clear();
  });

  it('once a tag was invalidated since the entry was stored, that first hit reads its tag after the entry: two round trips', async () => {
    const { callers, runs, name, cache } = setup();
    const [a, b] = callers;
    await a.q();
    await invalidate([{ tag: 'another' }], { cache });
    const { together, all } = await roundTrips(() => b.q(), 2, name);
    expect(together).toEqual(['entry', 'epoch']);
    expect(all).toEqual(['entry', 'epoch', 'post:7']);
    expect(runs()).toBe(1);
    await cache.clear();
  });

  it('memorizeFn: the entry and its computed tags leave together from the second hit on', async () => {
    const { cache, name } = setup();
    let runs = 0;
    const load = memorizeFn({ cache, namespace: 'load', tags: ({ input: [id] }) => [`item:${id}`, 'items'] })(
      async (id: string) => {
        runs++;
        return { id };
      },
    );
    await load('1');
    const { together, all } = await roundTrips(() => load('1'), 3, name);
    expect(together).toEqual(['entry', 'item:1', 'items']);
    expect(all).toEqual(together);
    expect(runs).toBe(1);
    await cache.clear();
  });
});

/** A backend whose every call fails, as a Redis that went away does once its queue is refused. */
function failing(): CacheBackend {
  const fail = () => Promise.reject(new Error('down'));
  return { name: 'down', get: fail, set: fail, delete: fail, deleteByPrefix: fail };
}

describe('a failing backend', () => {
  it('never serves a tagged entry it cannot check, and invalidate() rejects', async () => {
    const events: CacheErrorEvent[] = [];
    const memory = new MemoryBackend();
    let down = false;
    // Entries and tokens in memory; reads of tokens fail while `down`.
    const backend: CacheBackend = {
      name: 'flaky',
      get: (key) => (down && key.includes(':%T:') ? Promise.reject(new Error('down')) : memory.get(key)),
      set: (key, value, ttl) => memory.set(key, value, ttl),
      delete: (key) => memory.delete(key),
      deleteByPrefix: (prefix) => memory.deleteByPrefix(prefix),
    };
    const cache = createCache(backend, { prefix: 'flaky', onError: (event) => events.push(event) });
    const t = initTRPC.create();
    let runs = 0;
    const router = t.router({
      q: t.procedure.use(memorize({ expire: 60, cache, tags: ['t'] })).query(() => ++runs),
    });
    const c = t.createCallerFactory(router)({});
    expect(await c.q()).toBe(1);
    expect(await c.q()).toBe(1);
    down = true;
    // The token cannot be read: the entry cannot be vouched for, so the resolver runs,
    // and its result is not stored (nothing could invalidate it).
    expect(await c.q()).toBe(2);
    expect(await c.q()).toBe(3);
    expect(events.some((event) => event.operation === 'get' && event.key === 'flaky:%T:t')).toBe(true);
    down = false;
    expect(await c.q()).toBe(1);

    const dead = createCache(failing(), { prefix: 'dead', onError: () => {} });
    await expect(invalidate([{ tag: 't' }], { cache: dead })).rejects.toThrow('down');
    await expect(invalidate([{ path: 'q', input: 1 }], { cache: dead })).rejects.toThrow('down');
  });

  it('on a Redis that does not answer, a tagged procedure runs its resolver every time', async () => {
    const backend = new RedisBackend(`redis://127.0.0.1:${await closedPort()}`, {
      ...patient,
      commandTimeout: 0.2,
    });
    const cache = createCache(backend, { prefix: `gone-${randomUUID().slice(0, 8)}`, onError: () => {} });
    try {
      const t = initTRPC.create();
      let runs = 0;
      const router = t.router({
        q: t.procedure
          .use(memorize({ expire: 60, cache, tags: ({ data }) => [`n:${data}`] }))
          .query(() => ++runs),
      });
      const c = t.createCallerFactory(router)({});
      expect([await c.q(), await c.q()]).toEqual([1, 2]);
    } finally {
      await backend.close();
    }
  });
});

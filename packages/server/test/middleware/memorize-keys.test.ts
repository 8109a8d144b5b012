/**
 * Cache keys under attack, on every backend (memory, Redis, a 3-master Redis
 * Cluster): property tests over arbitrary scopes, namespaces, key function
 * results, prefixes and typed inputs, and a regression test per case of the keys
 * issue, over real HTTP with the superjson transformer where it applies.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createTRPCClient, httpLink, type TRPCLink } from '@trpc/client';
import { type AnyTRPCRouter, initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import superjson, { SuperJSON } from 'superjson';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { MemoryBackend } from '../../src/backends/memory.js';
import { RedisBackend } from '../../src/backends/redis.js';
import type { CacheBackend } from '../../src/backends/types.js';
import { type Cache, type CacheErrorEvent, createCache } from '../../src/cache/cache.js';
import { prefixPart } from '../../src/cache/key.js';
import { UnkeyableValueError } from '../../src/errors.js';
import { memorize } from '../../src/middleware/memorize.js';
import { memorizeFn } from '../../src/middleware/memorize-fn.js';
import type { DagRouter } from '../fixtures/dag-server.js';
import { anyString, sameInput, trickyString, typedValue } from '../helpers/arbitraries.js';
import { clusterBackend, patient, testPort } from '../helpers/redis-server.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Ports reserved for this file.
const CLUSTER_PORTS: [number, number, number] = [testPort(17161), testPort(17162), testPort(17163)];

type Ctx = { user: string };

/** Answers checked by the property tests, per backend (printed at the end, for the record). */
const checks: Record<string, number> = {};

interface KeySubject {
  /** A backend for one test: fresh for memory, shared for Redis (tests use their own prefixes). */
  backend(): CacheBackend;
  /** How many keys the backend holds under `cache`'s prefix (entries, and the fences of their namespaces). */
  count(cache: Cache): Promise<number>;
  dispose(): Promise<void>;
}

/** `text` as a JSON string in ASCII (a header carries only bytes), lone surrogates and all. */
const asciiJson = (text: string) =>
  JSON.stringify(text).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** A client transformer that sends shared references once, as an attacker would (superjson's `dedupe`). */
const dedupingSuperjson = new SuperJSON({ dedupe: true });

/** Serves `router` on 127.0.0.1:0; the JSON string in the `x-user` header (lone surrogates and all) is `ctx.user`. */
async function serve(router: AnyTRPCRouter) {
  const server = createHTTPServer({
    router,
    createContext: ({ req }): Ctx => ({ user: JSON.parse((req.headers['x-user'] as string) ?? '""') }),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    client: <TRouter extends AnyTRPCRouter>(user = '') =>
      createTRPCClient<TRouter>({
        links: [
          httpLink<AnyTRPCRouter>({
            url,
            transformer: dedupingSuperjson,
            headers: { 'x-user': asciiJson(user) },
          }) as TRPCLink<TRouter>,
        ],
      }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** A DAG `depth` levels deep whose every level holds the next one twice (superjson sends it in ~2 KB). */
function dag(depth: number): unknown {
  let node: unknown = { v: 1 };
  for (let i = 0; i < depth; i++) node = { l: node, r: node };
  return node;
}

function keySuite(name: string, make: () => Promise<KeySubject>): void {
  describe(`keys on ${name}`, () => {
    let subject: KeySubject;
    const caches: Cache[] = [];
    beforeAll(async () => {
      subject = await make();
    });
    afterAll(async () => {
      for (const cache of caches) await cache.clear();
      await subject?.dispose();
      if (checks[name] !== undefined)
        console.log(`property-test answers checked on ${name}: ${checks[name]}`);
    });
    const freshCache = (options: { prefix?: string; events?: CacheErrorEvent[] } = {}): Cache => {
      const { prefix = `keys-test-${randomUUID().slice(0, 8)}`, events } = options;
      const cache = createCache(subject.backend(), {
        prefix,
        expire: 60,
        ...(events === undefined ? {} : { onError: (event: CacheErrorEvent) => events.push(event) }),
      });
      caches.push(cache);
      return cache;
    };
    const count = (answers: number) => {
      checks[name] = (checks[name] ?? 0) + answers;
    };

    describe('property tests', () => {
      it('distinct (scope, namespace, input) never share an entry, and interleaved calls get their own answer', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.uniqueArray(trickyString(6, 1), { minLength: 1, maxLength: 2 }),
            fc.uniqueArray(anyString, { minLength: 1, maxLength: 3 }),
            fc.array(typedValue, { minLength: 1, maxLength: 4 }),
            fc.uniqueArray(anyString, { minLength: 1, maxLength: 3 }),
            async (namespaces, users, inputs, userKeys) => {
              const events: CacheErrorEvent[] = [];
              const cache = freshCache({ events });
              const t = initTRPC.context<Ctx>().create();
              const runs = new Map<string, number>();
              const ran = (label: string) => runs.set(label, (runs.get(label) ?? 0) + 1);
              // Namespaces that extend another with ':' are the ones that used to overlap.
              const spaces = [...new Set([...namespaces, `${namespaces[0]}:${namespaces.at(-1)}`])];
              const procedures: Record<string, AnyTRPCRouter['_def']['procedures'][string]> = {};
              spaces.forEach((namespace, n) => {
                procedures[`scoped${n}`] = t.procedure
                  .input(z.any())
                  .use(memorize({ cache, namespace, scope: (ctx) => ctx.user }))
                  .query(({ input, ctx }) => {
                    ran(`scoped${n}`);
                    return { n, user: ctx.user, input };
                  });
                procedures[`public${n}`] = t.procedure
                  .use(memorize({ cache, namespace }))
                  .input(z.any())
                  .query(({ input }) => {
                    ran(`public${n}`);
                    return { n, input };
                  });
                procedures[`keyed${n}`] = t.procedure
                  .input(z.object({ i: z.number() }))
                  .use(
                    memorize({ cache, namespace, key: ({ input }) => userKeys[(input as { i: number }).i]! }),
                  )
                  .query(({ input }) => {
                    ran(`keyed${n}`);
                    return { n, i: input.i };
                  });
              });
              const router = t.router(procedures);
              const factory = t.createCallerFactory(router);
              const callers = new Map(users.map((user) => [user, factory({ user })]));
              type Call = () => Promise<void>;
              const calls: Call[] = [];
              for (const [user, caller] of callers) {
                const call = caller as unknown as Record<string, (input: unknown) => Promise<unknown>>;
                spaces.forEach((_, n) => {
                  for (const input of inputs) {
                    calls.push(async () => {
                      expect(sameAnswer(await call[`scoped${n}`]!(input), { n, user, input })).toBe(true);
                    });
                    calls.push(async () => {
                      expect(sameAnswer(await call[`public${n}`]!(input), { n, input })).toBe(true);
                    });
                  }
                  userKeys.forEach((_, i) => {
                    calls.push(async () => {
                      expect(await call[`keyed${n}`]!({ i })).toEqual({ n, i });
                    });
                  });
                });
              }
              // Twice, interleaved: the second round is served from the cache.
              const order = [...calls, ...calls].sort(() => Math.random() - 0.5);
              await Promise.all(order.map((call) => call()));
              count(order.length);
              // At most one run per entry: as many as there are distinct (scope, namespace, input),
              // plus one per backend read or write that failed (a Cluster node may drop a
              // connection; the cache then fails open, and every answer above was still right).
              const distinctInputs = inputs.filter(
                (input, i) => inputs.findIndex((other) => sameInput(other, input)) === i,
              );
              const failed = events.filter(
                (event) => event.operation === 'get' || event.operation === 'set',
              ).length;
              spaces.forEach((_, n) => {
                expect(runs.get(`scoped${n}`)).toBeLessThanOrEqual(
                  users.length * distinctInputs.length + failed,
                );
                expect(runs.get(`public${n}`)).toBeLessThanOrEqual(distinctInputs.length + failed);
                expect(runs.get(`keyed${n}`)).toBeLessThanOrEqual(userKeys.length + failed);
                expect(runs.get(`keyed${n}`)).toBeGreaterThanOrEqual(userKeys.length);
              });
              expect(
                events.filter((event) => event.operation !== 'get' && event.operation !== 'set'),
              ).toEqual([]);
              await cache.clear();
            },
          ),
          { numRuns: 60 },
        );
      });

      it('a namespace or a prefix never clears another, whatever they contain', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.uniqueArray(trickyString(5), { minLength: 2, maxLength: 3 }),
            fc.uniqueArray(trickyString(5, 1), { minLength: 2, maxLength: 3 }),
            async (prefixes, namespaces) => {
              // One random base for the run, so 'p' and 'p:x' stay related while runs stay apart.
              const base = `keys-test-${randomUUID().slice(0, 8)}-`;
              const spaces = [...namespaces, `${namespaces[0]}:${namespaces[1]}`];
              const all = [...prefixes, `${prefixes[0]}:${prefixes[1]}`].map((prefix) =>
                freshCache({ prefix: base + prefix }),
              );
              let answers = 0;
              // A key given to set() reads its first ':' as the end of its namespace (documented):
              // plain keys only for namespaces without one.
              const plain = (namespace: string) => !namespace.includes(':');
              const fill = async (cache: Cache) => {
                for (const namespace of spaces) {
                  const load = memorizeFn({ cache, namespace })(async (n: number) => `${namespace}/${n}`);
                  await load(1);
                  if (plain(namespace)) await cache.set(`${namespace}:plain`, namespace);
                }
              };
              const present = async (cache: Cache, namespace: string) => {
                let runs = 0;
                const load = memorizeFn({ cache, namespace })(async (n: number) => {
                  runs++;
                  return `${namespace}/${n}`;
                });
                expect(await load(1)).toBe(`${namespace}/1`);
                answers++;
                return runs === 0;
              };
              for (const cache of all) await fill(cache);
              // Clear one namespace of one cache: exactly its entries go.
              const [target, ...others] = all;
              await target!.clear({ namespace: spaces[0]! });
              expect(await present(target!, spaces[0]!)).toBe(false);
              if (plain(spaces[0]!)) expect(await target!.get(`${spaces[0]}:plain`)).toBeUndefined();
              for (const namespace of spaces.slice(1)) {
                expect(await present(target!, namespace)).toBe(true);
                if (plain(namespace)) expect(await target!.get(`${namespace}:plain`)).toBe(namespace);
              }
              // Clear a whole cache: the others keep everything.
              await target!.clear();
              for (const cache of others) {
                for (const namespace of spaces) expect(await present(cache, namespace)).toBe(true);
              }
              count(answers);
              for (const cache of all) await cache.clear();
            },
          ),
          { numRuns: 30 },
        );
      });
    });

    describe('regressions, over HTTP with superjson', () => {
      it('1. a DAG request of ~2 KB is answered without the cache, reported once, and stores nothing', async () => {
        const events: CacheErrorEvent[] = [];
        const cache = freshCache({ events });
        const t = initTRPC.context<Ctx>().create({ transformer: superjson });
        let runs = 0;
        const router = t.router({
          search: t.procedure
            .use(memorize({ cache }))
            .input(z.any())
            .query(() => ++runs),
          searchAfter: t.procedure
            .input(z.any())
            .use(memorize({ cache }))
            .query(() => ++runs),
        });
        const server = await serve(router);
        try {
          const api = server.client<typeof router>();
          // superjson.serialize sends the shared levels once, as referentialEqualities.
          const sent = JSON.stringify(dedupingSuperjson.serialize(dag(25)));
          expect(sent.length).toBeLessThan(2_500);
          expect(await api.search.query(dag(25))).toBe(1);
          expect(await api.search.query(dag(25))).toBe(2);
          expect(await api.searchAfter.query(dag(22))).toBe(3);
          expect(
            events.map((event) => [event.operation, (event.error as UnkeyableValueError).reason]),
          ).toEqual([
            ['key', 'nodes'],
            ['key', 'nodes'],
            ['key', 'nodes'],
          ]);
          expect((events[0]!.error as Error).message).toMatch(/"search" ran without the cache/);
          expect(await subject.count(cache)).toBe(0);
          // A small shared structure is keyed like the same data without sharing.
          const shared = { id: 7 };
          expect(await api.search.query({ a: shared, b: shared })).toBe(4);
          expect(await api.search.query({ a: { id: 7 }, b: { id: 7 } })).toBe(4);
        } finally {
          await server.close();
        }
      });

      it('2. users whose ids differ only in lone surrogates (or in a long hashed id) get their own data', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create({ transformer: superjson });
        const router = t.router({
          me: t.procedure
            .use(memorize({ cache, scope: (ctx) => ctx.user }))
            .query(({ ctx }) => ({ user: ctx.user })),
          bySlug: t.procedure
            .input(z.object({ slug: z.string() }))
            .use(memorize({ cache, key: ({ input }) => (input as { slug: string }).slug }))
            .query(({ input }) => input.slug),
        });
        const server = await serve(router);
        try {
          const long = 'u'.repeat(80);
          const users = [
            'u\uD800',
            'u\uFFFD',
            'u\uDC00',
            'u?',
            `${long}\uD800`,
            `${long}\uFFFD`,
            `${long}\uDFFF`,
          ];
          for (let round = 0; round < 2; round++) {
            for (const user of users)
              expect(await server.client<typeof router>(user).me.query()).toEqual({ user });
          }
          const api = server.client<typeof router>();
          for (let round = 0; round < 2; round++) {
            for (const slug of [
              'a\uD800',
              'a\uFFFD',
              `${long}\uD800`,
              `${long}\uFFFD`,
              '~x',
              '=x',
              '#x',
              '%7Ex',
            ]) {
              expect(await api.bySlug.query({ slug })).toBe(slug);
            }
          }
        } finally {
          await server.close();
        }
      });

      it('3. URLs key by href; Errors and class instances run uncached instead of sharing a lossy key', async () => {
        const events: CacheErrorEvent[] = [];
        const cache = freshCache({ events });
        class Money {
          #cents: number;
          constructor(cents: number) {
            this.#cents = cents;
          }
          get cents() {
            return this.#cents;
          }
        }
        const name = `Money-${randomUUID()}`;
        for (const transformer of [superjson, dedupingSuperjson]) {
          transformer.registerCustom<Money, number>(
            {
              isApplicable: (v): v is Money => v instanceof Money,
              serialize: (v) => v.cents,
              deserialize: (v) => new Money(v),
            },
            name,
          );
        }
        const t = initTRPC.context<Ctx>().create({ transformer: superjson });
        let fetched = 0;
        const router = t.router({
          fetch: t.procedure
            .use(memorize({ cache }))
            .input(z.instanceof(URL))
            .query(({ input }) => ({ href: input.href, run: ++fetched })),
          echo: t.procedure
            .use(memorize({ cache }))
            .input(z.any())
            .query(({ input }) => (input instanceof Money ? input.cents : (input as Error).message)),
        });
        const server = await serve(router);
        try {
          const api = server.client<typeof router>();
          const a = await api.fetch.query(new URL('https://a.example/private?token=1'));
          expect(a).toEqual({ href: 'https://a.example/private?token=1', run: 1 });
          expect(await api.fetch.query(new URL('https://b.example/'))).toEqual({
            href: 'https://b.example/',
            run: 2,
          });
          expect(await api.fetch.query(new URL('https://a.example/private?token=1'))).toEqual(a);
          expect(await api.echo.query(new Money(5))).toBe(5);
          expect(await api.echo.query(new Money(7))).toBe(7);
          expect(await api.echo.query(new Error('one'))).toBe('one');
          expect(await api.echo.query(new Error('two'))).toBe('two');
          expect(
            events.map((event) => [event.operation, (event.error as UnkeyableValueError).reason]),
          ).toEqual(Array.from({ length: 4 }, () => ['key', 'type']));
        } finally {
          await server.close();
        }
      });

      it("4. clear({ namespace: 'post' }) leaves 'post:comments', and prefixes 'app' and 'app:users' keep to themselves", async () => {
        const base = `keys-test-${randomUUID().slice(0, 8)}`;
        const app = freshCache({ prefix: `${base}-app` });
        const users = freshCache({ prefix: `${base}-app:users` });
        const t = initTRPC.context<Ctx>().create({ transformer: superjson });
        const runs = { post: 0, comments: 0, users: 0 };
        const router = t.router({
          post: t.procedure
            .input(z.object({ id: z.string() }))
            .use(memorize({ cache: app, namespace: 'post' }))
            .query(() => ++runs.post),
          comments: t.procedure
            .input(z.object({ id: z.string() }))
            .use(memorize({ cache: app, namespace: 'post:comments' }))
            .query(() => ++runs.comments),
          users: t.procedure
            .input(z.object({ id: z.string() }))
            .use(memorize({ cache: users, namespace: 'post' }))
            .query(() => ++runs.users),
        });
        const server = await serve(router);
        try {
          const api = server.client<typeof router>();
          const all = () =>
            Promise.all([
              api.post.query({ id: '1' }),
              api.comments.query({ id: '1' }),
              api.users.query({ id: '1' }),
            ]);
          expect(await all()).toEqual([1, 1, 1]);
          await app.clear({ namespace: 'post' });
          expect(await all()).toEqual([2, 1, 1]);
          await app.clear();
          expect(await all()).toEqual([3, 2, 1]);
          await users.clear();
          expect(await all()).toEqual([3, 2, 2]);
        } finally {
          await server.close();
        }
      });

      it('6. junk input fields neither bypass nor fill the cache when memorize stands after .input()', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create({ transformer: superjson });
        let runs = 0;
        const router = t.router({
          post: t.procedure
            .input(z.object({ id: z.string() }))
            .use(memorize({ cache }))
            .query(({ input }) => ({ id: input.id, run: ++runs })),
        });
        const server = await serve(router);
        try {
          const api = server.client<typeof router>();
          const answers = await Promise.all(
            Array.from({ length: 200 }, (_, i) =>
              api.post.query({ id: '1', [`junk${i}`]: randomUUID() } as { id: string }),
            ),
          );
          expect(new Set(answers.map((answer) => answer.run)).size).toBe(1);
          expect(runs).toBe(1);
          // One entry, and the fence of its namespace (see fence.ts).
          expect(await subject.count(cache)).toBe(2);
        } finally {
          await server.close();
        }
      });
    });

    describe('what the key is built from', () => {
      it('before .input() the raw input keys the call (documented as weaker: extra fields make entries)', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        let runs = 0;
        const router = t.router({
          post: t.procedure
            .use(memorize({ cache }))
            .input(z.object({ id: z.string() }))
            .query(({ input }) => ({ id: input.id, run: ++runs })),
        });
        const caller = t.createCallerFactory(router)({ user: '' });
        await caller.post({ id: '1' });
        await caller.post({ id: '1' });
        await caller.post({ id: '1', extra: 1 } as { id: string });
        expect(runs).toBe(2);
        // Two entries, and the fence of their namespace (see fence.ts).
        expect(await subject.count(cache)).toBe(3);
      });

      it('between two .input()s, or with a resolver reading the raw input, it keys by the raw input', async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        const base = t.procedure.input(z.object({ tenant: z.string() })).use(memorize({ cache }));
        const router = t.router({
          byId: base.input(z.object({ id: z.string() })).query(({ input }) => `${input.tenant}/${input.id}`),
          raw: t.procedure
            .input(z.object({ id: z.string() }))
            .use(memorize({ cache }))
            .use(async ({ getRawInput, next }) => next({ ctx: { raw: await getRawInput() } }))
            .query(({ ctx }) => JSON.stringify(ctx.raw)),
        });
        const caller = t.createCallerFactory(router)({ user: '' });
        for (let round = 0; round < 2; round++) {
          expect(await caller.byId({ tenant: 't', id: '1' })).toBe('t/1');
          expect(await caller.byId({ tenant: 't', id: '2' })).toBe('t/2');
          expect(await caller.raw({ id: '1', note: 'a' } as { id: string })).toBe('{"id":"1","note":"a"}');
          expect(await caller.raw({ id: '1', note: 'b' } as { id: string })).toBe('{"id":"1","note":"b"}');
        }
      });

      it('a second copy of the router (another bundle or process) hits what the first stored under the validated key', async () => {
        const cache = freshCache();
        let runs = 0;
        const build = () => {
          const t = initTRPC.context<Ctx>().create();
          const router = t.router({
            post: t.procedure
              .input(z.object({ id: z.string() }))
              .use(memorize({ cache }))
              .query(({ input }) => ({ id: input.id, run: ++runs })),
            latest: t.procedure.use(memorize({ cache })).query(() => ({ run: ++runs })),
          });
          return t.createCallerFactory(router)({ user: '' });
        };
        const first = build();
        expect(await first.post({ id: '1' })).toEqual({ id: '1', run: 1 });
        expect(await first.latest()).toEqual({ run: 2 });
        // Fresh middleware instances: nothing learned yet about how these procedures key.
        const second = build();
        expect(await second.post({ id: '1', junk: 1 } as { id: string })).toEqual({ id: '1', run: 1 });
        expect(await second.latest()).toEqual({ run: 2 });
        expect(runs).toBe(2);
        // Two entries, and the fences of their two namespaces (see fence.ts).
        expect(await subject.count(cache)).toBe(4);
      });

      it("a procedure's first calls with other inputs wait for its first miss, and leave at once when aborted", async () => {
        const cache = freshCache();
        const t = initTRPC.context<Ctx>().create();
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const inputs: string[] = [];
        const router = t.router({
          post: t.procedure
            .input(z.object({ id: z.string() }))
            .use(memorize({ cache }))
            .query(async ({ input }) => {
              inputs.push(input.id);
              await gate;
              return input.id;
            }),
        });
        const factory = t.createCallerFactory(router);
        const first = factory({ user: '' }).post({ id: 'a' });
        await vi.waitFor(() => expect(inputs).toEqual(['a']));
        const controller = new AbortController();
        const leaving = factory({ user: '' }, { signal: controller.signal }).post({ id: 'b' });
        const waiting = [
          factory({ user: '' }).post({ id: 'a', junk: 1 } as { id: string }),
          factory({ user: '' }).post({ id: 'c' }),
        ];
        const reason = new Error('the client went away');
        controller.abort(reason);
        await expect(leaving).rejects.toMatchObject({ cause: reason });
        expect(inputs).toEqual(['a']);
        release();
        expect(await Promise.all([first, ...waiting])).toEqual(['a', 'a', 'c']);
        // The junk-field call found the first call's entry: keyed by the validated input.
        expect(inputs).toEqual(['a', 'c']);
      });

      it('memorizeFn reports arguments it cannot key and runs the function', async () => {
        const events: CacheErrorEvent[] = [];
        const cache = freshCache({ events });
        let runs = 0;
        const load = memorizeFn({ cache, namespace: 'load' })(async (_value: unknown) => ++runs);
        await load(new (class Point {})());
        await load(new (class Point {})());
        expect(runs).toBe(2);
        expect(events.map((event) => event.operation)).toEqual(['key', 'key']);
        expect(events[0]!.error).toBeInstanceOf(UnkeyableValueError);
        expect((events[0]!.error as Error).message).toMatch(
          /memorizeFn\(\): "load" ran without the cache: cannot key an instance of Point/,
        );
      });
    });
  });
}

/** Equal answers, comparing the echoed input with the oracle (its Maps, Dates, -0 and all). */
function sameAnswer(got: unknown, want: { input: unknown } & Record<string, unknown>): boolean {
  const { input, ...rest } = got as { input: unknown } & Record<string, unknown>;
  const { input: wanted, ...wantedRest } = want;
  return JSON.stringify(rest) === JSON.stringify(wantedRest) && sameInput(input, wanted);
}

keySuite('MemoryBackend', async () => {
  const backends = new Map<string, MemoryBackend>();
  let last: MemoryBackend | undefined;
  return {
    backend: () => {
      last = new MemoryBackend();
      return last;
    },
    count: async (cache) => {
      // Each cache got a fresh backend: its size is the cache's key count.
      const backend = cache.backend as MemoryBackend;
      backends.set(cache.prefix, backend);
      return backend.size;
    },
    dispose: async () => {
      last?.close();
      for (const backend of backends.values()) backend.close();
    },
  };
});

/** Counts the keys under a cache's prefix on every master. */
async function countKeys(nodes: Redis[], cache: Cache): Promise<number> {
  let total = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', `${prefixPart(cache.prefix)}:*`, 'COUNT', 1000);
      cursor = next;
      total += found.length;
    } while (cursor !== '0');
  }
  return total;
}

keySuite('RedisBackend', async () => {
  const backend = new RedisBackend(REDIS_URL, patient);
  const admin = new Redis(REDIS_URL);
  return {
    backend: () => backend,
    count: (cache) => countKeys([admin], cache),
    dispose: async () => {
      await backend.close();
      await admin.quit();
    },
  };
});

keySuite('RedisBackend on a Redis Cluster', async () => {
  const { backend, client, dispose } = await clusterBackend(CLUSTER_PORTS);
  return {
    backend: () => backend,
    count: (cache) => countKeys(client.nodes('master'), cache),
    dispose,
  };
});

describe('a DAG request against a server with a 256 MB heap', () => {
  it('is answered, and the server stays up and keeps answering', async () => {
    const child = spawn(
      process.execPath,
      [
        '--max-old-space-size=256',
        '--conditions=@trpc-memory/source',
        '--import',
        'tsx',
        fileURLToPath(new URL('../fixtures/dag-server.ts', import.meta.url)),
      ],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
      const { url } = JSON.parse(line) as { url: string };
      const api = createTRPCClient<DagRouter>({ links: [httpLink({ url, transformer: dedupingSuperjson })] });
      // Depth 22 killed a 256 MB process before; depth 25 exhausted 4 GB; 30 is a billion paths.
      for (const [i, depth] of [22, 25, 30].entries()) {
        expect(await api.search.query(dag(depth))).toEqual({ runs: i + 1, events: i + 1 });
      }
      expect(await api.search.query({ id: 1 })).toEqual({ runs: 4, events: 3 });
      expect(await api.search.query({ id: 1 })).toEqual({ runs: 4, events: 3 });
      expect(child.exitCode).toBeNull();
      expect(child.signalCode).toBeNull();
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });
});

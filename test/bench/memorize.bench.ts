/**
 * memorize: the cost of a memorized hit through `createCaller` (and over HTTP)
 * against the same procedure without memorize, and the hit throughput of memorize's cache path
 * (memory backend) against bentocache's and cacheable's `getOrSet`.
 * `npm run bench -- memorize`
 */
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { initTRPC } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { cacheHeaders, createCache, MemoryBackend, memorize, memorizeFn } from '@trpc-memory/server';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { Cacheable } from 'cacheable';
import superjson, { SuperJSON } from 'superjson';
import { Agent } from 'undici';
import { z } from 'zod';
import { setKeyHash, stableKey } from '../../packages/server/src/cache/key.js';
import { sha256Base64url } from '../../packages/server/src/cache/sha256.js';
import { UnkeyableValueError } from '../../packages/server/src/errors.js';
import {
  bestOf,
  fmt,
  opsPerCpuSecond,
  opsPerSecond,
  opsPerSecondConcurrent,
  payload,
  report,
} from './lib.js';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/**
 * Ops per CPU second of each contender (time spent waiting for a core on a busy
 * machine is not counted), best of interleaved rounds, with a collection before each run.
 */
function measure<K extends string>(rounds: number, n: number, fns: Record<K, () => unknown>) {
  const contenders = {} as Record<K, () => Promise<number>>;
  for (const name of Object.keys(fns) as K[]) {
    contenders[name] = () => {
      gc();
      return opsPerCpuSecond(fns[name], n, n / 4);
    };
  }
  return bestOf(rounds, contenders);
}

/** (a) memorized hit ÷ the same trivial procedure without memorize, both through createCaller. */
async function hitOverhead(): Promise<void> {
  const cache = createCache(new MemoryBackend(), { prefix: 'bench' });
  const t = initTRPC.create();
  const input = z.object({ id: z.string() });
  const resolve = () => ({ ok: true, n: 1 });
  const resolveWithInput = ({ input }: { input: { id: string } }) => ({ ok: true, id: input.id });
  const router = t.router({
    plain: t.procedure.query(resolve),
    memo: t.procedure.use(memorize({ expire: 60, cache })).query(resolve),
    plainInput: t.procedure.input(input).query(resolveWithInput),
    memoAfterInput: t.procedure
      .input(input)
      .use(memorize({ expire: 60, cache }))
      .query(resolveWithInput),
    memoBeforeInput: t.procedure
      .use(memorize({ expire: 60, cache }))
      .input(input)
      .query(resolveWithInput),
  });
  const caller = t.createCallerFactory(router)({});
  const arg = { id: '42' };
  const ops = await measure(9, 200_000, {
    plain: () => caller.plain(),
    memo: () => caller.memo(),
    plainInput: () => caller.plainInput(arg),
    memoAfterInput: () => caller.memoAfterInput(arg),
    memoBeforeInput: () => caller.memoBeforeInput(arg),
  });
  const cost = (name: keyof typeof ops) => `${(1e9 / ops[name]).toFixed(0)} ns/call`;
  report(
    'memorize hit / plain query, no input (createCaller)',
    ops.plain / ops.memo,
    'x',
    { op: '<=', value: 1.3 },
    `${cost('memo')} vs ${cost('plain')}`,
  );
  report(
    'memorize hit / plain query, zod input, memorize after .input()',
    ops.plainInput / ops.memoAfterInput,
    'x',
    { op: '<=', value: 1.3 },
    `${cost('memoAfterInput')} vs ${cost('plainInput')}`,
  );
  report(
    'memorize hit / plain query, zod input, memorize before .input()',
    ops.plainInput / ops.memoBeforeInput,
    'x',
    undefined,
    `${cost('memoBeforeInput')} vs ${cost('plainInput')} (a hit skips validation)`,
  );
}

/**
 * (a') the same with the repository's 1 KB `payload()` as the result: the copy
 * each hit hands out matters here, so this is the figure users of real
 * procedures see; and the same hit with `byReference: true` (no copy: every
 * caller gets the entry's one deep-frozen value).
 */
async function hitOverheadPayload(): Promise<void> {
  const cache = createCache(new MemoryBackend(), { prefix: 'bench-payload' });
  const t = initTRPC.create();
  const value = payload();
  // The bare procedure hands out one ready object: the strictest baseline (a real
  // resolver at least builds its result).
  const resolve = () => value;
  const router = t.router({
    plain: t.procedure.query(resolve),
    memo: t.procedure.use(memorize({ expire: 60, cache })).query(resolve),
    memoByReference: t.procedure.use(memorize({ expire: 60, cache, byReference: true })).query(resolve),
  });
  const caller = t.createCallerFactory(router)({});
  for (const call of [caller.memo, caller.memoByReference]) {
    if (JSON.stringify(await call()) !== JSON.stringify(value)) throw new Error('bench: wrong value');
  }
  const twice = async (call: () => Promise<unknown>) => [await call(), await call()];
  const [copyA, copyB] = await twice(caller.memo);
  const [sharedA, sharedB] = await twice(caller.memoByReference);
  if (copyA === copyB) throw new Error('bench: a hit was not copied');
  if (sharedA !== sharedB) throw new Error('bench: a by-reference hit was copied');
  const ops = await measure(9, 100_000, {
    plain: () => caller.plain(),
    memo: () => caller.memo(),
    memoByReference: () => caller.memoByReference(),
  });
  const cost = (name: keyof typeof ops) => `${(1e9 / ops[name]).toFixed(0)} ns/call`;
  report(
    'memorize hit / plain query, 1 KB payload (createCaller)',
    ops.plain / ops.memo,
    'x',
    { op: '<=', value: 1.3 },
    `${cost('memo')} vs ${cost('plain')}`,
  );
  report(
    'memorize({ byReference }) hit / plain query, 1 KB payload',
    ops.plain / ops.memoByReference,
    'x',
    { op: '<=', value: 1.1 },
    `${cost('memoByReference')} vs ${cost('plain')}`,
  );
}

/**
 * (a3) the 1 KB payload over HTTP (tRPC's standalone adapter with `cacheHeaders()`
 * as its `responseMeta`, as deployed): CPU time of this process per request, server
 * and keep-alive client together, for a memorized hit (copy and by reference)
 * against the plain procedure. Each round measures every contender back to back;
 * the figure is the median of the per-round ratios.
 */
async function httpHitOverhead(): Promise<void> {
  const cache = createCache(new MemoryBackend(), { prefix: 'bench-http' });
  const t = initTRPC.create();
  const value = payload();
  const router = t.router({
    plain: t.procedure.query(() => value),
    memo: t.procedure.use(memorize({ expire: 60, cache })).query(() => value),
    memoByReference: t.procedure.use(memorize({ expire: 60, cache, byReference: true })).query(() => value),
  });
  const server = createHTTPServer({ router, responseMeta: cacheHeaders() });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new Agent({ keepAliveTimeout: 60_000, connections: 8 });
  const get = (path: string) => async () => {
    const response = await fetch(`${base}/${path}`, { dispatcher: agent } as RequestInit);
    if (response.status !== 200) throw new Error(`bench: ${path} answered ${response.status}`);
    return response.text();
  };
  const contenders = { plain: get('plain'), memo: get('memo'), memoByReference: get('memoByReference') };
  for (const call of Object.values(contenders)) await call();
  /** Microseconds of this process's CPU per request, 8 requests in flight. */
  const cpuPerRequest = async (call: () => Promise<unknown>) => {
    await opsPerSecondConcurrent(call, 500, 8);
    gc();
    const before = process.cpuUsage();
    await opsPerSecondConcurrent(call, 3_000, 8);
    const used = process.cpuUsage(before);
    return (used.user + used.system) / 3_000;
  };
  const ratios = { memo: [] as number[], memoByReference: [] as number[] };
  const best = {
    plain: Number.POSITIVE_INFINITY,
    memo: Number.POSITIVE_INFINITY,
    byReference: Number.POSITIVE_INFINITY,
  };
  for (let round = 0; round < 7; round++) {
    const plain = await cpuPerRequest(contenders.plain);
    const memo = await cpuPerRequest(contenders.memo);
    const byReference = await cpuPerRequest(contenders.memoByReference);
    ratios.memo.push(memo / plain);
    ratios.memoByReference.push(byReference / plain);
    best.plain = Math.min(best.plain, plain);
    best.memo = Math.min(best.memo, memo);
    best.byReference = Math.min(best.byReference, byReference);
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  report(
    'HTTP: memorize hit / plain query, 1 KB payload (CPU/request)',
    median(ratios.memo),
    'x',
    undefined,
    `${best.memo.toFixed(1)} µs vs ${best.plain.toFixed(1)} µs`,
  );
  report(
    'HTTP: memorize({ byReference }) hit / plain query, 1 KB',
    median(ratios.memoByReference),
    'x',
    undefined,
    `${best.byReference.toFixed(1)} µs vs ${best.plain.toFixed(1)} µs`,
  );
  await agent.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * (a'') the 1 KB `payload()` behind a zod input, with `memorize` after and before
 * `.input()`, and a long input whose key is hashed (its canonical form is longer
 * than the verbatim limit).
 */
async function payloadHitOverhead(): Promise<void> {
  const cache = createCache(new MemoryBackend(), { prefix: 'bench' });
  const t = initTRPC.create();
  const value = payload();
  const byId = z.object({ id: z.string() });
  const search = z.object({ q: z.string(), page: z.number() });
  const router = t.router({
    plain: t.procedure.input(byId).query(() => value),
    memoAfterInput: t.procedure
      .input(byId)
      .use(memorize({ expire: 60, cache }))
      .query(() => value),
    memoBeforeInput: t.procedure
      .use(memorize({ expire: 60, cache }))
      .input(byId)
      .query(() => value),
    plainLong: t.procedure.input(search).query(() => value),
    memoLong: t.procedure
      .input(search)
      .use(memorize({ expire: 60, cache }))
      .query(() => value),
  });
  const caller = t.createCallerFactory(router)({});
  const arg = { id: '42' };
  // 200 characters of query: the key is a hash of the input's canonical form.
  const long = { q: 'caching tRPC results in redis '.repeat(7).slice(0, 200), page: 3 };
  const ops = await measure(9, 100_000, {
    plain: () => caller.plain(arg),
    memoAfterInput: () => caller.memoAfterInput(arg),
    memoBeforeInput: () => caller.memoBeforeInput(arg),
    plainLong: () => caller.plainLong(long),
    memoLong: () => caller.memoLong(long),
  });
  const cost = (name: keyof typeof ops) => `${(1e9 / ops[name]).toFixed(0)} ns/call`;
  const cases = [
    ['after .input()', 'memoAfterInput', 'plain'],
    ['before .input()', 'memoBeforeInput', 'plain'],
    ['hashed key', 'memoLong', 'plainLong'],
  ] as const;
  for (const [label, memo, plain] of cases) {
    report(
      `memorize hit / plain query, 1 KB payload, ${label}`,
      ops[plain] / ops[memo],
      'x',
      undefined,
      `${cost(memo)} vs ${cost(plain)}`,
    );
  }
}

/** The hash `memorize` used before the pure-JS one, for the same-run comparison. */
const nodeCryptoHash = (text: string) => createHash('sha256').update(text).digest('base64url');

/**
 * (a'') the hit path with a hashed key (a 200-character input), pure-JS SHA-256
 * against node:crypto, swapped in and out between interleaved rounds; and the
 * bare hash of that key's verbatim form.
 */
async function hashedKeyHitPath(): Promise<void> {
  const cache = createCache(new MemoryBackend(), { prefix: 'bench' });
  const t = initTRPC.create();
  const value = payload();
  const router = t.router({
    search: t.procedure
      .input(z.object({ q: z.string(), page: z.number() }))
      .use(memorize({ expire: 60, cache }))
      .query(() => value),
  });
  const caller = t.createCallerFactory(router)({});
  const long = { q: 'caching tRPC results in redis '.repeat(7).slice(0, 200), page: 3 };
  const verbatim = `=${JSON.stringify({ page: 3, q: long.q })}`;
  if (sha256Base64url(verbatim) !== nodeCryptoHash(verbatim)) throw new Error('bench: the hashes differ');
  await caller.search(long);
  const withHash = (hash: (text: string) => string, run: () => unknown) => () => {
    const previous = setKeyHash(hash);
    gc();
    return opsPerSecond(run, 100_000, 25_000).finally(() => setKeyHash(previous));
  };
  const ops = await bestOf(9, {
    pureJs: withHash(sha256Base64url, () => caller.search(long)),
    nodeCrypto: withHash(nodeCryptoHash, () => caller.search(long)),
    hashPureJs: withHash(sha256Base64url, () => sha256Base64url(verbatim)),
    hashNodeCrypto: withHash(nodeCryptoHash, () => nodeCryptoHash(verbatim)),
  });
  const cost = (name: keyof typeof ops) => `${(1e9 / ops[name]).toFixed(0)} ns`;
  report(
    `hit with hashed key (${verbatim.length} chars): pure-JS / node:crypto`,
    ops.nodeCrypto / ops.pureJs,
    'x',
    undefined,
    `${cost('pureJs')} vs ${cost('nodeCrypto')} per call`,
  );
  report(
    `SHA-256 of that key alone: pure-JS / node:crypto`,
    ops.hashNodeCrypto / ops.hashPureJs,
    'x',
    undefined,
    `${cost('hashPureJs')} vs ${cost('hashNodeCrypto')}`,
  );
}

/** A DAG `depth` levels deep whose every level holds the next one `width` times. */
function dag(depth: number, width = 2, leaf: unknown = { v: 1 }): unknown {
  let node = leaf;
  for (let i = 0; i < depth; i++) {
    node = Object.fromEntries(Array.from({ length: width }, (_, k) => [`k${k}`, node]));
  }
  return node;
}

/**
 * (c) key building for hostile inputs of about 2 KB on the wire, as the server
 * receives them (superjson, shared references sent once): the time of one
 * `stableKey` (which refuses what is past its limits), against parsing the same
 * request body (superjson.deserialize of the JSON), the work the server does anyway.
 */
async function keyBuilding(): Promise<void> {
  const sender = new SuperJSON({ dedupe: true });
  const hostile: Record<string, unknown> = {
    'DAG depth 25 (2 per level)': dag(25),
    'DAG depth 10 (8 per level)': dag(10, 8),
    'DAG depth 25 of 1 KB strings': dag(25, 2, { s: 'x'.repeat(1_000) }),
    'array of 1,000 zeros': new Array(1_000).fill(0),
    'object of 200 keys': Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, i])),
    'Map of 150 entries': new Map(Array.from({ length: 150 }, (_, i) => [`k${i}`, i])),
    '64 nested arrays': JSON.parse(`${'['.repeat(64)}1${']'.repeat(64)}`),
    '2 KB of escaped characters': ''.repeat(340),
  };
  const rows: [string, number, number, number, string][] = [];
  for (const [name, value] of Object.entries(hostile)) {
    const body = JSON.stringify(sender.serialize(value));
    const received = superjson.deserialize(JSON.parse(body));
    let outcome = 'keyed';
    try {
      stableKey(received);
    } catch (error) {
      if (!(error instanceof UnkeyableValueError)) throw error;
      outcome = `refused (${error.reason})`;
    }
    const build = () => {
      try {
        return stableKey(received);
      } catch {
        return undefined;
      }
    };
    const parse = () => superjson.deserialize(JSON.parse(body));
    const ops = await bestOf(7, {
      build: () => opsPerSecond(build, 300, 50),
      parse: () => opsPerSecond(parse, 300, 50),
    });
    rows.push([name, body.length, 1e6 / ops.build, 1e6 / ops.parse, outcome]);
  }
  const worst = rows.reduce((a, b) => (b[2] > a[2] ? b : a));
  for (const [name, bytes, buildUs, parseUs, outcome] of rows) {
    report(
      `key building: ${name}`,
      buildUs,
      ' µs',
      undefined,
      `${bytes} B request, ${outcome}; parsing it: ${parseUs.toFixed(1)} µs`,
    );
  }
  report('key building: worst input / its parse', worst[2] / worst[3], 'x', undefined, worst[0]);
}

/** (b) memory-backend hit throughput of memorize's cache path against bentocache and cacheable. */
async function hitThroughput(): Promise<void> {
  const value = payload();
  let loads = 0;
  const load = async (_id: string) => {
    loads++;
    return value;
  };
  const key = 'post-1';

  const ours = memorizeFn({ expire: 3600, cache: createCache(new MemoryBackend(), { prefix: 'bench' }) })(
    async function loadPost(id: string) {
      return load(id);
    },
  );
  // An hour to live: on a busy machine the measured rounds can outlast a minute.
  // All three hand out a copy per hit with their defaults (checked and printed
  // below): bentocache and ours keep entries serialized, cacheable clones.
  const bento = new BentoCache({
    default: 'memory',
    stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) },
  });
  const cacheable = new Cacheable({ ttl: '1h' });
  const bentoGet = () => bento.getOrSet({ key, factory: () => load(key), ttl: '1h' });
  const cacheableGet = () => cacheable.getOrSet(key, () => load(key), { ttl: '1h' });

  // Fill each cache; every measured call must then be a hit (checked after).
  for (const get of [() => ours(key), bentoGet, cacheableGet]) {
    const first = await get();
    if (JSON.stringify(first) !== JSON.stringify(value)) throw new Error('bench: wrong value');
  }
  const ops = await measure(7, 100_000, {
    memorize: () => ours(key),
    bentocache: bentoGet,
    cacheable: cacheableGet,
  });
  /** Whether two hits hand out distinct objects (a copy per hit, as memorize does). */
  const copies = async (get: () => Promise<unknown>) => {
    const first = await get();
    const second = await get();
    return first !== second;
  };
  const isolated = await copies(() => ours(key));
  const bentoIsolated = await copies(bentoGet);
  const cacheableIsolated = await copies(cacheableGet);
  if (loads !== 3) throw new Error(`bench: ${loads - 3} measured calls were misses`);
  const faster = Math.max(ops.bentocache, ops.cacheable);
  console.log(
    `1 KB JSON value (${JSON.stringify(value).length} B); copy per hit: memorize ${isolated}, bentocache ${bentoIsolated}, cacheable ${cacheableIsolated}`,
  );
  report('memory hit: memorize cache path / faster of the two', ops.memorize / faster, 'x', {
    op: '>=',
    value: 1,
  });
  for (const name of ['memorize', 'bentocache', 'cacheable'] as const) {
    report(
      `memory hit throughput: ${name}`,
      ops[name] / 1e6,
      'M ops/s',
      undefined,
      `${fmt(ops[name])} ops/s`,
    );
  }
  await bento.disconnectAll();
  await cacheable.disconnect();
}

export default async function memorizeBench(): Promise<void> {
  await hitOverhead();
  await hitOverheadPayload();
  await httpHitOverhead();
  await payloadHitOverhead();
  await hashedKeyHitPath();
  await keyBuilding();
  await hitThroughput();
}

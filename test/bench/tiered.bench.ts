/**
 * Tiered backend: an L1 hit through `memorizeFn` against a plain MemoryBackend
 * hit and against bentocache's tiered `getOrSet` hit (memory L1 + Redis L2 +
 * Redis bus), on the repository's 1 KB payload; and the bus' propagation time,
 * from `clear({ key })` in this process to the L1 entry being gone in another.
 * `npm run bench -- tiered`
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createCache, MemoryBackend, memorizeFn } from '@trpc-memory/server';
import { TieredBackend } from '@trpc-memory/server/redis';
import { Redis } from 'ioredis';
import { sleep } from '../../packages/server/test/helpers/time.js';
import { bestOf, fmt, opsPerSecond, payload, report } from './lib.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/**
 * bentocache's Redis driver and bus import ioredis from where npm put bentocache
 * (the root), while this workspace's ioredis lives in test/node_modules: resolve
 * it from here for them.
 */
function ioredisFromHere(): void {
  const here = import.meta.url;
  const hook = `export async function resolve(specifier, context, next) {
    if ((specifier === 'ioredis' || specifier.startsWith('ioredis/')) && /node_modules\\/(bentocache|@boringnode)\\//.test(context.parentURL ?? '')) {
      return next(specifier, { ...context, parentURL: ${JSON.stringify(here)} });
    }
    return next(specifier, context);
  }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}

async function busUp(backend: TieredBackend): Promise<void> {
  while (!backend.busUp) await sleep(5);
}

/** Hit throughput through memorizeFn: tiered L1 vs plain memory, and vs bentocache's tiered getOrSet. */
async function hits(): Promise<void> {
  ioredisFromHere();
  const { BentoCache, bentostore } = await import('bentocache');
  const { memoryDriver } = await import('bentocache/drivers/memory');
  const { redisDriver, redisBusDriver } = await import('bentocache/drivers/redis');

  const value = payload();
  let loads = 0;
  const load = async (_id: string) => {
    loads++;
    return value;
  };
  const key = 'post-1';
  const prefix = `bench-tiered-${process.pid}`;
  const tiered = new TieredBackend(REDIS_URL, { channel: `${prefix}:bus` });
  await busUp(tiered);
  const overTiered = memorizeFn({ expire: 60, cache: createCache(tiered, { prefix }) })(
    async function loadPost(id: string) {
      return load(id);
    },
  );
  const overMemory = memorizeFn({ expire: 60, cache: createCache(new MemoryBackend(), { prefix }) })(
    async function loadPost(id: string) {
      return load(id);
    },
  );
  const bento = new BentoCache({
    default: 'tiered',
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 10_000 }))
        .useL2Layer(redisDriver({ connection: new Redis(REDIS_URL), prefix: `${prefix}-bento` }))
        .useBus(redisBusDriver({ connection: new Redis(REDIS_URL) })),
    },
  });
  const bentoGet = () => bento.getOrSet({ key, factory: () => load(key), ttl: '1m' });
  for (const get of [() => overTiered(key), () => overMemory(key), bentoGet]) {
    if (JSON.stringify(await get()) !== JSON.stringify(value)) throw new Error('bench: wrong value');
  }
  if (tiered.l1Size !== 1) throw new Error('bench: the tiered hit is not an L1 hit');
  const n = 100_000;
  const measure = (fn: () => unknown) => () => {
    gc();
    return opsPerSecond(fn, n, n / 4);
  };
  const ops = await bestOf(7, {
    tiered: measure(() => overTiered(key)),
    memory: measure(() => overMemory(key)),
    bentocache: measure(bentoGet),
  });
  if (loads !== 3) throw new Error(`bench: ${loads - 3} measured calls were misses`);
  report(
    'tiered L1 hit / MemoryBackend hit (memorizeFn, 1 KB)',
    ops.tiered / ops.memory,
    'x',
    {
      op: '>=',
      value: 0.9,
    },
    `${fmt(ops.tiered)} vs ${fmt(ops.memory)} ops/s`,
  );
  report(
    'tiered L1 hit / bentocache tiered getOrSet hit (L1+L2+bus)',
    ops.tiered / ops.bentocache,
    'x',
    {
      op: '>=',
      value: 1,
    },
    `${fmt(ops.tiered)} vs ${fmt(ops.bentocache)} ops/s`,
  );
  await bento.disconnectAll();
  await tiered.deleteByPrefix(prefix);
  await tiered.close();
}

/**
 * Bus propagation: another process fills its L1 with a key, then this process
 * clears it; the other reports when its L1 no longer holds it. Times are on the
 * shared wall clock (performance.timeOrigin + now), compared across processes.
 */
async function propagation(): Promise<void> {
  const prefix = `bench-bus-${process.pid}`;
  const channel = `${prefix}:bus`;
  const child: ChildProcess = fork(fileURLToPath(new URL('./tiered-peer.ts', import.meta.url)), [], {
    env: { ...process.env, TIERED_CHANNEL: channel, TIERED_PREFIX: prefix, REDIS_URL },
    execArgv: ['--conditions=@trpc-memory/source', '--import', 'tsx'],
  });
  const replies: { type: string; at?: number }[] = [];
  child.on('message', (message) => replies.push(message as { type: string; at?: number }));
  const next = async (type: string) => {
    while (!replies.some((reply) => reply.type === type)) await sleep(0);
    return replies.splice(
      replies.findIndex((reply) => reply.type === type),
      1,
    )[0]!;
  };
  const tiered = new TieredBackend(REDIS_URL, { channel });
  await busUp(tiered);
  const cache = createCache(tiered, { prefix });
  await next('ready');
  const publisher = new Redis(REDIS_URL);
  const samples: number[] = [];
  const rawSamples: number[] = [];
  for (let i = 0; i < 600; i++) {
    const rawStart = performance.timeOrigin + performance.now();
    await publisher.publish(`${channel}:raw`, 'x');
    const { at: rawAt } = await next('raw');
    if (i >= 100) rawSamples.push(rawAt! - rawStart);
    const key = `k${i}`;
    await cache.set(key, payload(i), { expire: 60 });
    child.send({ type: 'fill', key: cache.fullKey(key) });
    await next('filled');
    await sleep(1);
    const start = performance.timeOrigin + performance.now();
    await cache.clear({ key });
    const { at } = await next('gone');
    if (i >= 100) samples.push(at! - start); // the first 100 warm both processes up
  }
  const percentile = (list: number[], p: number) => {
    const sorted = [...list].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  };
  const pct = (p: number) => percentile(samples, p);
  report(
    'bus propagation p99: clear({ key }) → gone from another process’ L1',
    pct(99),
    ' ms',
    {
      op: '<=',
      value: 10,
    },
    `p50 ${pct(50).toFixed(2)} ms, max ${pct(100).toFixed(2)} ms, ${samples.length} samples`,
  );
  report(
    'baseline p99: raw PUBLISH → raw subscriber in the other process',
    percentile(rawSamples, 99),
    ' ms',
    undefined,
    `p50 ${percentile(rawSamples, 50).toFixed(2)} ms`,
  );
  publisher.disconnect();
  child.send({ type: 'exit' });
  await once(child, 'exit');
  await cache.clear();
  await tiered.close();
}

export default async function tieredBench(): Promise<void> {
  await hits();
  await propagation();
}

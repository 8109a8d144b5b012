/**
 * Distributed single-flight (`memorizeFn({ distributed: true })`) on Redis
 * (`REDIS_URL`), two instances simulated by two backends on their own connections
 * (as two processes have), sharing one prefix:
 *
 * - **waiter latency**: instance B asks for a key instance A is computing; how long
 *   after A's resolver returned does B get the value (A stores it, releases the
 *   lock, which announces it; B wakes and reads it). Target: p50 ≤ 5 ms. Shown
 *   beside it: the same for a waiter in A's own process (in-process single-flight).
 * - **miss cost**: sequential cold misses on one instance with a resolver that
 *   takes no time, distributed vs in-process only: the lock and release round
 *   trips each miss pays.
 * - **runs saved**: 3 instances × 1 concurrent cold call per key, resolver runs.
 */
import { randomUUID } from 'node:crypto';
import { createCache, memorizeFn } from '@trpc-memory/server';
import { RedisBackend } from '@trpc-memory/server/redis';
import { report } from './lib.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RESOLVER_MS = 20;
const SAMPLES = 200;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function instances(count: number, distributed: boolean, resolverMs: number) {
  const prefix = `bench-flight-${randomUUID().slice(0, 8)}`;
  const state = { runs: 0, returnedAt: new Map<string, number>(), started: new Map<string, () => void>() };
  const backends = Array.from({ length: count }, () => new RedisBackend(REDIS_URL, { commandTimeout: 5 }));
  const loads = backends.map((backend) =>
    memorizeFn({ cache: createCache(backend, { prefix }), expire: 60, distributed })(async function load(
      key: string,
    ) {
      state.runs++;
      state.started.get(key)?.();
      if (resolverMs > 0) await sleep(resolverMs);
      state.returnedAt.set(key, performance.now());
      return { key, payload: 'x'.repeat(512) };
    }),
  );
  return { loads, state, close: () => Promise.all(backends.map((backend) => backend.close())) };
}

/** Added latency of a waiter on instance `waiter` (0 = the holder's own process), per key. */
async function waiterLatency(remote: boolean): Promise<number[]> {
  const { loads, state, close } = instances(2, true, RESOLVER_MS);
  const [holder, other] = loads as [(key: string) => Promise<unknown>, (key: string) => Promise<unknown>];
  const waiter = remote ? other : holder;
  const added: number[] = [];
  try {
    for (let i = -20; i < SAMPLES; i++) {
      const key = `k${i}`;
      const started = new Promise<void>((resolve) => state.started.set(key, resolve));
      const held = holder(key);
      await started;
      const waited = waiter(key).then(() => performance.now());
      const [doneAt] = await Promise.all([waited, held]);
      // The first 20 warm the connections and the subscription up.
      if (i >= 0) added.push(doneAt - (state.returnedAt.get(key) as number));
    }
  } finally {
    await close();
  }
  return added;
}

async function missCost(distributed: boolean): Promise<number> {
  const { loads, close } = instances(1, distributed, 0);
  const load = loads[0] as (key: string) => Promise<unknown>;
  try {
    for (let i = 0; i < 200; i++) await load(`warm${i}`);
    const start = performance.now();
    for (let i = 0; i < 1_000; i++) await load(`k${i}`);
    return (performance.now() - start) / 1_000;
  } finally {
    await close();
  }
}

async function runsFor(distributed: boolean): Promise<number> {
  const { loads, state, close } = instances(3, distributed, RESOLVER_MS);
  try {
    await Promise.all(loads.map((load) => load('warm')));
    state.runs = 0;
    for (let i = 0; i < 50; i++) await Promise.all(loads.map((load) => load(`k${i}`)));
    return state.runs;
  } finally {
    await close();
  }
}

export default async function distributedFlightBench(): Promise<void> {
  const remote = await waiterLatency(true);
  const local = await waiterLatency(false);
  report('waiter added latency, other instance: p50', percentile(remote, 50), ' ms', { op: '<=', value: 5 });
  report('waiter added latency, other instance: p99', percentile(remote, 99), ' ms', undefined);
  report('waiter added latency, same process: p50', percentile(local, 50), ' ms', undefined);

  const plain = await missCost(false);
  const locked = await missCost(true);
  report('miss, in-process single-flight only', plain, ' ms', undefined);
  report(
    'miss, distributed (lock + release)',
    locked,
    ' ms',
    undefined,
    `+${(locked - plain).toFixed(2)} ms per miss`,
  );

  const runsLocal = await runsFor(false);
  const runsDistributed = await runsFor(true);
  report('resolver runs, 3 instances x 50 cold keys, in-process', runsLocal, '', undefined);
  report('resolver runs, 3 instances x 50 cold keys, distributed', runsDistributed, '', undefined);
}

/**
 * Distributed single-flight with real processes: three app instances
 * (createHTTPServer on port 0 each) on one Redis, and again on the 3-master
 * Cluster, every resolver run counted in a file the instances share.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  killNow,
  type RedisCluster,
  type RedisServer,
  startRedisCluster,
  startRedisServer,
  testPort,
} from '../../packages/server/test/helpers/redis-server.js';
import { callCold, type Fleet, type Instance, startFleet } from './flight-harness.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Ports reserved for this file.
const CLUSTER_PORTS: [number, number, number] = [testPort(17305), testPort(17306), testPort(17307)];
const HOSTILE_PORT = testPort(17308);
const HOSTILE_CLUSTER_PORTS: [number, number, number] = [testPort(17310), testPort(17311), testPort(17312)];

const unique = (label: string) => `flight-${label}-${randomUUID().slice(0, 8)}`;

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster(CLUSTER_PORTS);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

async function withFleet(env: Record<string, string>, body: (fleet: Fleet) => Promise<void>): Promise<void> {
  const fleet = await startFleet(3, env);
  try {
    await body(fleet);
  } finally {
    await fleet.stop();
  }
}

/** The first instance in which a resolver starts. */
function firstResolving(instances: Instance[]): Promise<Instance> {
  return Promise.race(instances.map((instance) => instance.nextResolving().then(() => instance)));
}

describe.each([
  ['one Redis', () => REDIS_URL],
  ['the 3-master Cluster', () => `cluster:${CLUSTER_PORTS.join(',')}`],
])('distributed single-flight on %s', (_name, redis) => {
  it('runs the resolver once for 3 instances × 300 concurrent cold calls', { timeout: 60_000 }, async () => {
    await withFleet(
      {
        FLIGHT_REDIS: redis(),
        FLIGHT_PREFIX: unique('once'),
        FLIGHT_RESOLVER_MS: '500',
        // Not a fault test: 900 calls on two busy cores must not turn a slow lock command
        // into a timeout (which fails open, and so into a second run).
        FLIGHT_COMMAND_TIMEOUT: '15',
      },
      async (fleet) => {
        const results = await Promise.all(
          fleet.instances.flatMap((instance) => Array.from({ length: 300 }, () => callCold(instance, 'k'))),
        );
        expect(results.filter((result) => !result.ok)).toEqual([]);
        expect(fleet.runs()).toBe(1);
        const computedBy = new Set(results.map((result) => (result.ok ? result.data.by : undefined)));
        expect(computedBy.size).toBe(1);
      },
    );
  });

  it('lets another instance finish within lock TTL + resolver time when the lock holder is SIGKILLed mid-resolver', {
    timeout: 60_000,
  }, async () => {
    const lockTtl = 2;
    const resolverMs = 1_000;
    await withFleet(
      {
        FLIGHT_REDIS: redis(),
        FLIGHT_PREFIX: unique('kill'),
        FLIGHT_RESOLVER_MS: String(resolverMs),
        FLIGHT_LOCK_TTL: String(lockTtl),
        // A dead holder announces nothing: only the poll (and the lock TTL) can end the wait.
        FLIGHT_POLL: '0.2',
      },
      async (fleet) => {
        const holderFound = firstResolving(fleet.instances);
        const calls = fleet.instances.map((instance) =>
          Promise.all(Array.from({ length: 20 }, () => callCold(instance, 'k'))),
        );
        const holder = await holderFound;
        const killedAt = performance.now();
        await holder.kill();
        const survivors = fleet.instances.filter((instance) => instance !== holder);
        const answered = await Promise.all(
          survivors.map((instance) => calls[fleet.instances.indexOf(instance)]!),
        );
        const elapsed = performance.now() - killedAt;
        expect(answered.flat().filter((result) => !result.ok)).toEqual([]);
        expect(fleet.runs()).toBe(2);
        // lock TTL + resolver time, plus 1.5 s for the poll period and two busy cores.
        expect(elapsed).toBeLessThan(lockTtl * 1000 + resolverMs + 1_500);
      },
    );
  });

  it('wakes the waiters when the resolver fails: the error is not shared, the next instance computes', {
    timeout: 60_000,
  }, async () => {
    await withFleet(
      {
        FLIGHT_REDIS: redis(),
        FLIGHT_PREFIX: unique('error'),
        FLIGHT_RESOLVER_MS: '300',
        FLIGHT_FAIL_FIRST: '1',
        // Neither the lock TTL nor the poll can wake the waiters within the test: only the announcement.
        FLIGHT_LOCK_TTL: '30',
        FLIGHT_POLL: '30',
      },
      async (fleet) => {
        const holderFound = firstResolving(fleet.instances);
        const calls = fleet.instances.map((instance) =>
          Promise.all(Array.from({ length: 20 }, () => callCold(instance, 'k'))),
        );
        const holder = await holderFound;
        const startedAt = performance.now();
        const results = await Promise.all(calls);
        const elapsed = performance.now() - startedAt;
        const index = fleet.instances.indexOf(holder);
        // The holder's own callers shared its failure (in-process single-flight shares errors).
        expect(results[index]!.every((result) => !result.ok && result.status === 502)).toBe(true);
        const others = results.filter((_, i) => i !== index).flat();
        expect(others.filter((result) => !result.ok)).toEqual([]);
        expect(fleet.runs()).toBe(2);
        expect(elapsed).toBeLessThan(10_000);
      },
    );
  });
});

describe('distributed single-flight when Redis fails under load', () => {
  let redis: RedisServer | undefined;
  afterAll(async () => {
    await redis?.stop();
  });

  /** Waves of concurrent cold calls on every instance, `fault` applied after the third wave. */
  async function load(fleet: Fleet, fault: () => Promise<void>): Promise<number> {
    let failed = 0;
    for (let wave = 0; wave < 8; wave++) {
      if (wave === 3) await fault();
      const results = await Promise.all(
        fleet.instances.flatMap((instance) =>
          Array.from({ length: 30 }, (_, i) => callCold(instance, `wave-${wave}-${i % 3}`)),
        ),
      );
      failed += results.filter((result) => !result.ok).length;
    }
    return failed;
  }

  it('answers every request when Redis is killed mid-load (in-process single-flight takes over)', {
    timeout: 60_000,
  }, async () => {
    redis = await startRedisServer(HOSTILE_PORT);
    const server = redis;
    await withFleet(
      {
        FLIGHT_REDIS: server.url,
        FLIGHT_PREFIX: unique('killed'),
        FLIGHT_RESOLVER_MS: '50',
        FLIGHT_COMMAND_TIMEOUT: '0.3',
      },
      async (fleet) => {
        expect(await load(fleet, () => killNow(server))).toBe(0);
      },
    );
    await server.stop();
  });

  it('answers every request when a master of the Cluster is killed mid-load', {
    timeout: 90_000,
  }, async () => {
    const hostile = await startRedisCluster(HOSTILE_CLUSTER_PORTS);
    try {
      await withFleet(
        {
          FLIGHT_REDIS: `cluster:${HOSTILE_CLUSTER_PORTS.join(',')}`,
          FLIGHT_PREFIX: unique('cluster-killed'),
          FLIGHT_RESOLVER_MS: '50',
          FLIGHT_COMMAND_TIMEOUT: '0.3',
        },
        async (fleet) => {
          expect(await load(fleet, () => killNow(hostile.servers[0]!))).toBe(0);
        },
      );
    } finally {
      await hostile.stop();
    }
  });

  it('answers every request when Redis stalls mid-load (SIGSTOP)', { timeout: 60_000 }, async () => {
    redis = await startRedisServer(HOSTILE_PORT);
    const server = redis;
    await withFleet(
      {
        FLIGHT_REDIS: server.url,
        FLIGHT_PREFIX: unique('stalled'),
        FLIGHT_RESOLVER_MS: '50',
        FLIGHT_COMMAND_TIMEOUT: '0.3',
      },
      async (fleet) => {
        expect(await load(fleet, async () => void server.process.kill('SIGSTOP'))).toBe(0);
      },
    );
    await server.stop();
  });
});

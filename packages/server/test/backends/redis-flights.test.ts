import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisBackend, type RedisClient } from '../../src/backends/redis.js';
import { hashTagOf, lockKeyOf } from '../../src/backends/redis-flights.js';
import type { FlightTurn } from '../../src/backends/types.js';
import { RedisBackendError } from '../../src/errors.js';
import {
  closedPort,
  killNow,
  patient,
  type RedisCluster,
  startRedisCluster,
  startRedisServer,
  testPort,
} from '../helpers/redis-server.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
// Ports reserved for this file.
const CLUSTER_PORTS: [number, number, number] = [testPort(17301), testPort(17302), testPort(17303)];
const HOSTILE_PORT = testPort(17304);

const unique = (label: string) => `flights-${label}-${randomUUID().slice(0, 8)}`;
/** Longer than any test runs: a waiter woken in time was woken by the announcement. */
const NEVER = { ttl: 60, poll: 600 };

function held(turn: FlightTurn): Extract<FlightTurn, { held: true }> {
  expect(turn.held).toBe(true);
  return turn as Extract<FlightTurn, { held: true }>;
}

function waiting(turn: FlightTurn): Extract<FlightTurn, { held: false }> {
  expect(turn.held).toBe(false);
  return turn as Extract<FlightTurn, { held: false }>;
}

let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster(CLUSTER_PORTS);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

type Trio = [RedisBackend<RedisClient>, RedisBackend<RedisClient>, RedisBackend<RedisClient>];

interface Setup {
  /** Three backends on separate connections, as three processes would have. */
  make(): Promise<{ a: RedisBackend; b: RedisBackend; c: RedisBackend; dispose(): Promise<void> }>;
}

const setups: Record<string, Setup> = {
  'ioredis (URL)': {
    async make() {
      const [a, b, c] = [0, 1, 2].map(() => new RedisBackend(REDIS_URL, patient)) as Trio;
      return { a, b, c, dispose: async () => void (await Promise.all([a.close(), b.close(), c.close()])) };
    },
  },
  'node-redis client': {
    async make() {
      const clients = [0, 1, 2].map(() => createClient({ url: REDIS_URL }));
      await Promise.all(clients.map((client) => client.connect()));
      const [a, b, c] = clients.map((client) => new RedisBackend<RedisClient>(client, patient)) as Trio;
      return {
        a,
        b,
        c,
        dispose: async () => {
          await Promise.all([a.close(), b.close(), c.close()]);
          for (const client of clients) client.destroy();
        },
      };
    },
  },
  'ioredis Cluster': {
    async make() {
      const clients = [0, 1, 2].map(() => new Cluster(cluster.nodes));
      const [a, b, c] = clients.map((client) => new RedisBackend<RedisClient>(client, patient)) as Trio;
      return {
        a,
        b,
        c,
        dispose: async () => {
          await Promise.all([a.close(), b.close(), c.close()]);
          await Promise.all(clients.map((client) => client.quit()));
        },
      };
    },
  },
  'node-redis cluster': {
    async make() {
      const rootNodes = cluster.nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` }));
      const clients = [0, 1, 2].map(() => createCluster({ rootNodes }));
      await Promise.all(clients.map((client) => client.connect()));
      const [a, b, c] = clients.map((client) => new RedisBackend<RedisClient>(client, patient)) as Trio;
      return {
        a,
        b,
        c,
        dispose: async () => {
          await Promise.all([a.close(), b.close(), c.close()]);
          for (const client of clients) client.destroy();
        },
      };
    },
  },
};

describe.each(Object.entries(setups))('RedisBackend.flights on %s', (_name, setup) => {
  it('hands the lock to one holder; the release wakes the waiter at once and frees the lock', async () => {
    const { a, b, c, dispose } = await setup.make();
    try {
      // Each backend subscribes on its first acquire and wakes its waiters once subscribed:
      // make that first acquire a wait on a lock held elsewhere, so that only the
      // announcement can wake the waiters below.
      for (const backend of [a, b]) {
        const warm = unique('warm');
        held(await c.flights.acquire(warm, NEVER));
        await waiting(await backend.flights.acquire(warm, NEVER)).released;
      }
      const key = `${unique('one')}:ns:={"id":"1"}`;
      const holder = held(await a.flights.acquire(key, NEVER));
      const waiter = waiting(await b.flights.acquire(key, NEVER));
      // A second waiter in the holder's own process too.
      const local = waiting(await a.flights.acquire(key, NEVER));
      let woken = 0;
      const wakes = [waiter.released, local.released].map((promise) => promise.then(() => woken++));
      await Promise.resolve();
      expect(woken).toBe(0);
      await holder.release();
      await Promise.all(wakes);
      expect(woken).toBe(2);
      held(await b.flights.acquire(key, NEVER));
    } finally {
      await dispose();
    }
  });

  it('lets the next process take over once the lock TTL passes (a crashed or slow holder)', async () => {
    const { a, b, c, dispose } = await setup.make();
    try {
      const key = unique('ttl');
      // The lock as Redis holds it: the token of its holder (no key prefix in these setups).
      const token = () =>
        (a.client as unknown as { get(key: string): Promise<string | null> }).get(lockKeyOf('', key));
      // Long enough for the read right after to see it, short enough to wait for.
      held(await a.flights.acquire(key, { ttl: 1, poll: 0.05 }));
      const abandoned = await token();
      expect(abandoned).toEqual(expect.any(String));
      let turn = await b.flights.acquire(key, { ttl: 60, poll: 0.05 });
      // Nobody releases: the waiter is woken by its poll, and takes the lock once it expired.
      while (!turn.held) {
        await turn.released;
        turn = await b.flights.acquire(key, { ttl: 60, poll: 0.05 });
      }
      // The lock changed hands with no release: the holder's lock expired, and b's is a lock.
      const taken = await token();
      expect(taken).toEqual(expect.any(String));
      expect(taken).not.toBe(abandoned);
      waiting(await c.flights.acquire(key, NEVER));
      await turn.release();
      await held(await c.flights.acquire(key, NEVER)).release();
    } finally {
      await dispose();
    }
  });

  it("never releases another holder's lock: a holder past its TTL releases nothing but the announcement", async () => {
    const { a, b, dispose } = await setup.make();
    try {
      const key = unique('token');
      const late = held(await a.flights.acquire(key, { ttl: 0.1, poll: 0.05 }));
      let successor = await b.flights.acquire(key, { ttl: 60, poll: 0.05 });
      while (!successor.held) {
        await successor.released;
        successor = await b.flights.acquire(key, { ttl: 60, poll: 0.05 });
      }
      await late.release();
      waiting(await a.flights.acquire(key, NEVER));
      await successor.release();
      held(await a.flights.acquire(key, NEVER));
    } finally {
      await dispose();
    }
  });
});

describe('RedisBackend.flights lock keys', () => {
  it('finds the hash tag as Redis Cluster does', () => {
    expect(hashTagOf('app:ns:={"id":"1"}')).toBe('"id":"1"');
    expect(hashTagOf('app:{}x{y}')).toBe('app:{}x{y}');
    expect(hashTagOf('a{b')).toBe('a{b');
    expect(hashTagOf('a}{b}')).toBe('b');
    expect(lockKeyOf('', 'app:ns:1')).toBe('{app:ns:1}flight:app:ns:1');
  });

  it('puts the lock in the hash slot of its entry (checked with CLUSTER KEYSLOT), whatever the key', async () => {
    const admin = new Redis(cluster.nodes[0]!.port, '127.0.0.1');
    try {
      const prefix = fc.oneof(
        fc.constant(''),
        fc.string({ maxLength: 6 }).filter((p) => !p.includes('{')),
      );
      const key = fc.string({
        unit: fc.constantFrom('a', ':', '{', '}', '=', '"', 'é', '𝄞'),
        minLength: 1,
        maxLength: 24,
      });
      await fc.assert(
        fc.asyncProperty(prefix, key, async (keyPrefix, entry) => {
          const lock = lockKeyOf(keyPrefix, entry);
          if (lock.startsWith('flight:')) {
            // The documented exception: an entry hash tag with a `}` in it.
            expect(hashTagOf(keyPrefix + entry)).toContain('}');
            return;
          }
          const [entrySlot, lockSlot] = await Promise.all([
            admin.call('CLUSTER', 'KEYSLOT', keyPrefix + entry),
            admin.call('CLUSTER', 'KEYSLOT', keyPrefix + lock),
          ]);
          expect(lockSlot).toBe(entrySlot);
        }),
        { numRuns: 300 },
      );
    } finally {
      admin.disconnect();
    }
  });

  it('keeps an ioredis keyPrefix in the slot computation (the lock lands next to the prefixed entry)', async () => {
    const client = new Cluster(cluster.nodes, { keyPrefix: 'kp:' });
    const backend = new RedisBackend(client, patient);
    const admin = new Redis(cluster.nodes[0]!.port, '127.0.0.1');
    try {
      const key = unique('prefixed');
      const turn = held(await backend.flights.acquire(key, NEVER));
      const lock = `kp:${lockKeyOf('kp:', key)}`;
      const [entrySlot, lockSlot] = await Promise.all([
        admin.call('CLUSTER', 'KEYSLOT', `kp:${key}`),
        admin.call('CLUSTER', 'KEYSLOT', lock),
      ]);
      expect(lockSlot).toBe(entrySlot);
      expect(await client.exists(lockKeyOf('kp:', key))).toBe(1);
      await turn.release();
      expect(await client.exists(lockKeyOf('kp:', key))).toBe(0);
    } finally {
      await backend.close();
      await client.quit();
      admin.disconnect();
    }
  });
});

describe('RedisBackend.flights without Redis', () => {
  it('rejects (never hangs) when Redis stalls or dies mid-way, and a waiter left behind is still woken by its poll', async () => {
    const server = await startRedisServer(HOSTILE_PORT);
    const holder = new RedisBackend(server.url, { commandTimeout: 0.3, cooldown: 0 });
    const waiter = new RedisBackend(server.url, { commandTimeout: 0.3, cooldown: 0 });
    try {
      const key = unique('hostile');
      held(await holder.flights.acquire(key, { ttl: 60, poll: 0.2 }));
      const left = waiting(await waiter.flights.acquire(key, { ttl: 60, poll: 0.2 }));
      server.process.kill('SIGSTOP');
      await expect(waiter.flights.acquire(unique('stalled'), NEVER)).rejects.toMatchObject({
        reason: 'timeout',
      });
      // The holder cannot announce anything now: the poll ends the wait.
      await left.released;
      await killNow(server);
      await expect(waiter.flights.acquire(unique('killed'), NEVER)).rejects.toBeInstanceOf(RedisBackendError);
    } finally {
      await Promise.all([holder.close(), waiter.close()]);
      await server.stop();
    }
  });

  it('rejects at once when Redis cannot be reached, so the caller computes on its own', async () => {
    const backend = new RedisBackend(`redis://127.0.0.1:${await closedPort()}`, { commandTimeout: 0.5 });
    try {
      await expect(backend.flights.acquire(unique('down'), NEVER)).rejects.toBeInstanceOf(RedisBackendError);
    } finally {
      await backend.close();
    }
  });
});

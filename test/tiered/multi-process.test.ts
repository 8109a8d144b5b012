/**
 * Three app processes (tRPC standalone HTTP servers on port 0, one memorized
 * procedure over a TieredBackend) on one Redis, then on a 3-master Redis
 * Cluster: an invalidation on one instance is seen by the others; with the bus
 * cut and kept down, the bus-loss TTL bounds how long an instance serves what
 * another invalidated; with Redis killed under load, no request fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  killNow,
  type RedisServer,
  startRedisCluster,
  startRedisServer,
  testPort,
} from '../../packages/server/test/helpers/redis-server.js';
import { until } from '../../packages/server/test/helpers/time.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const APP = fileURLToPath(new URL('./app.ts', import.meta.url));
/** Short, so the bound is observable; the slack below is for two busy cores, not for the bound. */
const BUS_LOSS_TTL = 2;
const SLACK_MS = 3_000;
/** How often a wait asks an app process: each check is a request it serves on the same two cores. */
const POLL_MS = 10;

interface App {
  url: string;
  child: ChildProcess;
}

async function startApp(redis: string): Promise<App> {
  const child = spawn(process.execPath, ['--conditions=@trpc-memory/source', '--import', 'tsx', APP], {
    cwd: ROOT,
    env: {
      ...process.env,
      TIERED_REDIS: redis,
      TIERED_BUS_LOSS_TTL: String(BUS_LOSS_TTL),
      TIERED_PREFIX: 'mp',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  await until(() => output.includes('\n'), { timeout: 30_000, what: 'the app printed its URL' });
  const { url } = JSON.parse(output.split('\n')[0]!) as { url: string };
  return { url, child };
}

async function stopApp(app: App): Promise<void> {
  if (app.child.exitCode !== null || app.child.signalCode !== null) return;
  const exited = once(app.child, 'exit');
  app.child.kill('SIGKILL');
  await exited;
}

async function call<T>(app: App, path: string, input: unknown, method: 'GET' | 'POST' = 'GET'): Promise<T> {
  const url = new URL(`/${path}`, app.url);
  if (method === 'GET') url.searchParams.set('input', JSON.stringify(input));
  const response = await fetch(url, {
    method,
    ...(method === 'POST'
      ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) }
      : {}),
  });
  const body = (await response.json()) as { result?: { data: T }; error?: unknown };
  if (!response.ok || body.result === undefined) {
    throw new Error(`${path} failed (${response.status}): ${JSON.stringify(body.error)}`);
  }
  return body.result.data;
}

const item = (app: App, id: string) => call<{ id: string; version: string | null }>(app, 'item', { id });
const state = (app: App) => call<{ runs: number; busUp: boolean; l1: number }>(app, 'state', undefined);

/** Resolves once every app reports its invalidation bus `up` (subscribed) or down. */
async function busesAre(apps: readonly App[], up: boolean, timeout: number): Promise<void> {
  for (const app of apps) {
    await until(async () => (await state(app)).busUp === up, {
      timeout,
      every: POLL_MS,
      what: `the bus of ${app.url} ${up ? 'up' : 'down'}`,
    });
  }
}

interface Topology {
  name: string;
  start(): Promise<{
    target: string;
    admins: Redis[];
    upstream: Redis | Cluster;
    kill(): Promise<void>;
    stop(): Promise<void>;
  }>;
}

const topologies: Topology[] = [
  {
    name: 'one Redis',
    async start() {
      const server: RedisServer = await startRedisServer(testPort(17143));
      const admin = new Redis(server.url);
      admin.on('error', () => {});
      return {
        target: server.url,
        admins: [admin],
        upstream: admin,
        kill: () => killNow(server),
        async stop() {
          admin.disconnect();
          await server.stop();
        },
      };
    },
  },
  {
    name: 'a 3-master Redis Cluster',
    async start() {
      const cluster = await startRedisCluster([testPort(17144), testPort(17145), testPort(17146)]);
      const admins = cluster.nodes.map(({ host, port }) => new Redis({ host, port }));
      const upstream = new Cluster(cluster.nodes);
      for (const client of [...admins, upstream]) client.on('error', () => {});
      return {
        target: JSON.stringify(cluster.nodes),
        admins,
        upstream,
        kill: async () => {
          await Promise.all(cluster.servers.map((server) => killNow(server)));
        },
        async stop() {
          for (const admin of admins) admin.disconnect();
          upstream.disconnect();
          await cluster.stop();
        },
      };
    },
  },
];

describe.each(topologies)('three app processes on $name', (topology) => {
  let redis: Awaited<ReturnType<Topology['start']>>;
  let apps: App[];
  beforeAll(async () => {
    redis = await topology.start();
    apps = await Promise.all([0, 1, 2].map(() => startApp(redis.target)));
    await busesAre(apps, true, 20_000);
  }, 90_000);
  afterAll(async () => {
    await Promise.all((apps ?? []).map(stopApp));
    await redis?.stop();
  });

  /** Resolves once `app` serves `version` for `id`. */
  function serves(app: App, id: string, version: string): Promise<void> {
    return until(async () => (await item(app, id)).version === version, {
      timeout: 15_000,
      every: POLL_MS,
      what: `${app.url} serving ${version} of ${id}`,
    });
  }

  it('an invalidation on one instance is seen by the others', async () => {
    const [a, b, c] = apps as [App, App, App];
    await redis.upstream.set('source:1', 'v1');
    for (const app of apps) expect(await item(app, '1')).toEqual({ id: '1', version: 'v1' });
    // The upstream changes behind the cache's back: every instance keeps its cached answer.
    await redis.upstream.set('source:1', 'v2');
    for (const app of apps) expect((await item(app, '1')).version).toBe('v1');
    for (const app of apps) expect((await state(app)).l1).toBeGreaterThan(0);
    await call(b, 'invalidate', { id: '1' }, 'POST');
    expect((await item(b, '1')).version).toBe('v2');
    await serves(a, '1', 'v2');
    await serves(c, '1', 'v2');
  });

  it('with the bus cut and kept down, no instance serves invalidated data beyond busLossTtl', async () => {
    const [a, b, c] = apps as [App, App, App];
    await redis.upstream.set('source:2', 'v1');
    for (const app of apps) expect((await item(app, '2')).version).toBe('v1');
    // No new connection is accepted, so the subscribers cannot come back; then cut them.
    for (const admin of redis.admins) {
      const others = ((await admin.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string).trim().split('\n');
      await admin.call('CONFIG', 'SET', 'maxclients', String(others.length));
      await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    }
    try {
      await busesAre(apps, false, 10_000);
      await redis.upstream.set('source:2', 'v2');
      const invalidated = performance.now();
      await call(b, 'invalidate', { id: '2' }, 'POST'); // published, heard by no one
      for (const app of [a, c]) await serves(app, '2', 'v2');
      // The entries were capped when the cut was noticed (before `invalidated`).
      expect(performance.now() - invalidated).toBeLessThan(BUS_LOSS_TTL * 1000 + SLACK_MS);
      // Still down: the cap did it, not a reconnection.
      for (const app of apps) expect((await state(app)).busUp).toBe(false);
    } finally {
      for (const admin of redis.admins) await admin.call('CONFIG', 'SET', 'maxclients', '10000');
    }
    await busesAre(apps, true, 20_000);
    await redis.upstream.set('source:2', 'v3');
    await call(a, 'invalidate', { id: '2' }, 'POST');
    await serves(c, '2', 'v3');
  }, 60_000);

  it('Redis killed under load: not one request fails', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `load-${i}`);
    for (const id of ids) await item(apps[0]!, id);
    let failed = 0;
    let done = 0;
    let stop = false;
    const worker = async (app: App, n: number) => {
      while (!stop) {
        const id = ids[(done + n) % ids.length]!;
        try {
          const value = await item(app, id);
          if (value.id !== id) failed++;
        } catch {
          failed++;
        }
        done++;
      }
    };
    const workers = apps.flatMap((app) => [0, 1, 2, 3].map((n) => worker(app, n)));
    await until(() => done > 200, { timeout: 30_000, what: 'load before the kill' });
    await redis.kill();
    const atKill = done;
    await until(() => done > atKill + 600, { timeout: 60_000, what: 'load after the kill' });
    stop = true;
    await Promise.all(workers);
    expect(failed).toBe(0);
  }, 120_000);
});

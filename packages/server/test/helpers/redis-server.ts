/**
 * Private redis-server processes for tests that must stop, pause or cluster a
 * Redis without disturbing the shared one on 6379. Each test file uses its own
 * ports (see the callers) and stops what it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { RedisBackend } from '../../src/backends/redis.js';
import { sleep } from './time.js';

/** Sends one inline command over a raw socket; resolves the first reply line, or undefined when nothing answers. */
function rawCommand(port: number, command: string, timeoutMs = 300): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (reply: string | undefined) => {
      socket.destroy();
      resolve(reply);
    };
    socket.setTimeout(timeoutMs, () => done(undefined));
    socket.once('error', () => done(undefined));
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.once('data', (data) => done(data.toString().split('\r\n')[0]));
  });
}

/**
 * A fixed test port moved by `TRPC_MEMORY_TEST_PORT_OFFSET`, so that several
 * checkouts can run their suites side by side on one machine without ending
 * each other's private Redis servers.
 */
export function testPort(port: number): number {
  const offset = Number(process.env.TRPC_MEMORY_TEST_PORT_OFFSET ?? 0);
  return port + (Number.isSafeInteger(offset) ? offset : 0);
}

/**
 * Backend options for tests that are not about timeouts: a command deadline no
 * busy machine misses (the suite runs test files in parallel on two cores), so a
 * slow moment never turns into a timeout, a cooldown and a string of misses.
 */
export const patient = { commandTimeout: 10 } as const;

/**
 * Resolves once `backend` (on a Redis Cluster) has served a write on every master.
 * An ioredis Cluster opens its node connections on first use and may replace them
 * after its first slot refresh; a command caught in that fails (open, as a miss),
 * which tests counting resolver runs or reads would take for a cache failure.
 */
export async function untilClusterServes(backend: {
  set(key: string, value: string, ttl?: number): unknown;
}): Promise<void> {
  const keys = Array.from({ length: 30 }, (_, i) => `cluster-warm-up-${i}`);
  for (let attempt = 0; ; attempt++) {
    try {
      await Promise.all(keys.map((key) => backend.set(key, 'x', 5)));
      return;
    } catch (error) {
      if (attempt >= 400) throw error;
      await sleep(50);
    }
  }
}

export interface RedisServer {
  port: number;
  url: string;
  process: ChildProcess;
  /** Kills the server (SIGKILL, after SIGCONT in case it was stopped) and waits for it to exit. */
  stop(): Promise<void>;
}

/** Starts `redis-server` on 127.0.0.1:`port` without persistence and waits until it answers PING. */
export async function startRedisServer(port: number, extraArgs: string[] = []): Promise<RedisServer> {
  // A server left behind on our port by a crashed earlier run: ours to end.
  if ((await rawCommand(port, 'PING')) !== undefined) {
    await rawCommand(port, 'SHUTDOWN NOSAVE');
    for (let i = 0; i < 50 && (await rawCommand(port, 'PING', 100)) !== undefined; i++) await sleep(20);
  }
  const dir = mkdtempSync(join(tmpdir(), `trpc-memory-redis-${port}-`));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...extraArgs,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let failed: Error | undefined;
  child.once('error', (error) => (failed = error));
  for (let i = 0; ; i++) {
    if (failed !== undefined) throw failed;
    if ((await rawCommand(port, 'PING', 200)) === '+PONG') break;
    if (i > 250) throw new Error(`redis-server on port ${port} did not start`);
    await sleep(20);
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * SIGKILLs the process as it is (a frozen one included: it dies without reading
 * what waits in its sockets) and resolves once it has exited.
 */
export async function killNow(server: Pick<RedisServer, 'process'>): Promise<void> {
  const exited = once(server.process, 'exit');
  server.process.kill('SIGKILL');
  await exited;
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RedisCluster {
  nodes: { host: string; port: number }[];
  /** The node processes, in the order of the ports (to stall or kill one). */
  servers: RedisServer[];
  stop(): Promise<void>;
}

/**
 * A 3-master Redis Cluster on `ports`: slots assigned with CLUSTER ADDSLOTSRANGE
 * and nodes joined with CLUSTER MEET (no redis-cli needed), ready when every
 * node reports `cluster_state:ok` and sees all three masters.
 */
export async function startRedisCluster(ports: [number, number, number]): Promise<RedisCluster> {
  const servers: RedisServer[] = [];
  const admins: Redis[] = [];
  try {
    for (const port of ports) {
      servers.push(
        await startRedisServer(port, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '2000',
        ]),
      );
    }
    for (const port of ports) admins.push(new Redis({ host: '127.0.0.1', port, lazyConnect: true }));
    await Promise.all(admins.map((admin) => admin.connect()));
    const ranges: [number, number][] = [
      [0, 5460],
      [5461, 10922],
      [10923, 16383],
    ];
    await Promise.all(
      admins.map((admin, i) => admin.call('CLUSTER', 'ADDSLOTSRANGE', ...ranges[i]!.map(String))),
    );
    for (const port of ports.slice(1)) await admins[0]!.call('CLUSTER', 'MEET', '127.0.0.1', String(port));
    // Gossip between the nodes settles in a second or two; on a machine whose cores
    // are all busy (the rest of the suite) it may take far longer, which is no failure.
    const deadline = performance.now() + 30_000;
    for (;;) {
      const infos = await Promise.all(
        admins.map((admin) => admin.call('CLUSTER', 'INFO') as Promise<string>),
      );
      const slots = await Promise.all(
        admins.map((admin) => admin.call('CLUSTER', 'SLOTS') as Promise<unknown[]>),
      );
      const ready =
        infos.every((info) => info.includes('cluster_state:ok') && info.includes('cluster_known_nodes:3')) &&
        slots.every((list) => list.length === 3);
      if (ready) break;
      if (performance.now() > deadline) throw new Error('the Redis Cluster did not converge within 30 s');
      await sleep(20);
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop()));
    throw error;
  } finally {
    for (const admin of admins) admin.disconnect();
  }
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    servers,
    async stop() {
      await Promise.all(servers.map((server) => server.stop()));
    },
  };
}

/**
 * A 3-master Redis Cluster on `ports` and a `RedisBackend` on an ioredis Cluster
 * client of it, ready to serve every master ({@link untilClusterServes});
 * `dispose` closes both and stops the cluster.
 */
export async function clusterBackend(
  ports: [number, number, number],
): Promise<{ backend: RedisBackend; client: Cluster; dispose: () => Promise<void> }> {
  const cluster = await startRedisCluster(ports);
  const client = new Cluster(cluster.nodes, { redisOptions: { connectTimeout: 2_000 } });
  const backend = new RedisBackend(client, patient);
  await client.ping();
  await untilClusterServes(backend);
  return {
    backend,
    client,
    dispose: async () => {
      await backend.close();
      await client.quit();
      await cluster.stop();
    },
  };
}

/**
 * http: the cost of `ResilientClient.getJson` (URL building, retry wrapper, ky,
 * the dispatcher transport under ky, body parsing) against a raw `fetch`
 * through an undici `Agent` configured like the client's own, both against the
 * same local keep-alive server: 2,000 requests at concurrency 20 per
 * measurement. Every contender does the same work (GET, status check, body read
 * as text, `JSON.parse`). The server runs in a child process, so the client's
 * CPU time can be measured alone.
 *
 * This machine's speed drifts from second to second, so each round measures
 * every contender back to back (order rotated) and the figure reported is the
 * median of the per-round ratios: drift hits both sides of a ratio alike.
 *
 * A third contender, stock ky on fetch with the same Agent as `dispatcher`,
 * shows what a ky client costs when fetch is its transport.
 * `npm run bench -- http`
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { ResilientClient } from '@trpc-memory/server';
import ky from 'ky';
import { Agent } from 'undici';
import { fmt, report } from './lib.js';

const TOTAL = 2_000;
const CONCURRENCY = 20;
const ROUNDS = 15;
const BODY = JSON.stringify({
  id: 'post-1',
  title: 'Caching tRPC query results without surprises',
  author: { id: 42, name: 'Ada Lovelace' },
  tags: ['trpc', 'cache', 'http'],
  stats: { views: 12345, likes: 678 },
});

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** A keep-alive JSON server in a child process. */
async function startUpstream(): Promise<{ url: string; stop: () => Promise<void> }> {
  const source = `
    const body = ${JSON.stringify(BODY)};
    const server = require('node:http').createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    server.keepAliveTimeout = 60000;
    server.listen(0, '127.0.0.1', () => console.log(server.address().port));
  `;
  const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  return {
    url: `http://127.0.0.1:${Number.parseInt(chunk.toString(), 10)}`,
    stop: async () => {
      child.kill();
      await once(child, 'exit');
    },
  };
}

interface Cost {
  /** Requests per second of wall time. */
  wall: number;
  /** Microseconds of this process's CPU time per request. */
  cpu: number;
}

/** Runs `total` calls of `fn` with `concurrency` workers; wall throughput and CPU per call. */
async function run(fn: () => Promise<unknown>, total: number, concurrency: number): Promise<Cost> {
  let left = total;
  const worker = async () => {
    while (left-- > 0) await fn();
  };
  // Let pending finalizers run and collect first, so that one contender's
  // garbage is not billed to the next.
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpuBefore);
  return { wall: total / (ns / 1e9), cpu: (cpu.user + cpu.system) / total };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/**
 * Every contender measured once per round, back to back (order rotated each
 * round), after a warm-up round: the list of costs of each, round by round.
 */
async function rounds<K extends string>(
  contenders: Record<K, () => Promise<unknown>>,
): Promise<Record<K, Cost[]>> {
  const names = Object.keys(contenders) as K[];
  for (const name of names) await run(contenders[name], TOTAL, CONCURRENCY); // warm-up
  const costs = Object.fromEntries(names.map((name) => [name, []])) as unknown as Record<K, Cost[]>;
  for (let round = 0; round < ROUNDS; round++) {
    const order = names.map((_, i) => names[(round + i) % names.length] as K);
    for (const name of order) costs[name].push(await run(contenders[name], TOTAL, CONCURRENCY));
  }
  return costs;
}

/** Median over rounds of `a`'s CPU per request / `b`'s, and of `b`'s throughput / `a`'s. */
function ratios(a: Cost[], b: Cost[]): { cpu: number; wall: number } {
  return {
    cpu: median(a.map((cost, i) => cost.cpu / (b[i] as Cost).cpu)),
    wall: median(a.map((cost, i) => (b[i] as Cost).wall / cost.wall)),
  };
}

const parse = (text: string): unknown => (text === '' ? '' : JSON.parse(text));

export default async function httpBench(): Promise<void> {
  const upstream = await startUpstream();
  const client = new ResilientClient({ baseUrl: upstream.url, maxConnections: CONCURRENCY });
  await client.start();
  // The pool settings the client gives its own Agent.
  const agent = new Agent({
    connections: CONCURRENCY,
    pipelining: 1,
    keepAliveTimeout: 5_000,
    connectTimeout: 30_000,
    headersTimeout: 30_000,
    bodyTimeout: 30_000,
  });
  const stockKy = ky.create({ retry: 0, timeout: 30_000, dispatcher: agent } as Parameters<
    typeof ky.create
  >[0]);
  const url = `${upstream.url}/data`;

  const costs = await rounds({
    fetch: async () => {
      const response = await fetch(url, { dispatcher: agent } as RequestInit);
      if (!response.ok) throw new Error(`status ${response.status}`);
      return parse(await response.text());
    },
    getJson: () => client.getJson('data'),
    kyOnFetch: async () => parse(await (await stockKy.get(url)).text()),
  });

  const us = (cost: Cost[]) => `${median(cost.map((c) => c.cpu)).toFixed(0)} µs CPU/request`;
  const rps = (cost: Cost[]) => `${fmt(median(cost.map((c) => c.wall)))} req/s`;
  const getJson = ratios(costs.getJson, costs.fetch);
  report(
    'getJson / raw fetch, client CPU per request (2k req, conc. 20)',
    getJson.cpu,
    'x',
    { op: '<=', value: 1.15 },
    `${us(costs.getJson)} vs ${us(costs.fetch)}, median of ${ROUNDS} rounds`,
  );
  report(
    'getJson / raw fetch, wall time',
    getJson.wall,
    'x',
    { op: '<=', value: 1.15 },
    `${rps(costs.getJson)} vs ${rps(costs.fetch)}`,
  );
  const kyOnFetch = ratios(costs.kyOnFetch, costs.fetch);
  report(
    '  for comparison: stock ky on fetch / raw fetch (CPU)',
    kyOnFetch.cpu,
    'x',
    undefined,
    `${us(costs.kyOnFetch)}; wall ${kyOnFetch.wall.toFixed(2)}x`,
  );
  console.log(`  (load average when done: ${loadavg()[0]?.toFixed(2)} on this machine)`);

  await client.close();
  await agent.close();
  await upstream.stop();
}

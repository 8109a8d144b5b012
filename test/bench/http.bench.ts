/**
 * http: the cost of `ResilientClient.getJson` (ky + retry wrapper + URL and
 * body handling) against a raw `fetch` through an undici `Agent` configured like
 * the client's own, both against the same local keep-alive server: 2,000
 * requests at concurrency 20, best of interleaved rounds. The server runs in a
 * child process, so the client's CPU time can be measured alone: that figure
 * holds steady on a busy machine, where wall time does not.
 * `npm run bench -- http`
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { ResilientClient } from '@trpc-memory/server';
import ky from 'ky';
import { Agent } from 'undici';
import { fmt, report } from './lib.js';

const TOTAL = 2_000;
const CONCURRENCY = 20;
const ROUNDS = 9;

/** A keep-alive JSON server in a child process. */
async function startUpstream(): Promise<{ url: string; stop: () => Promise<void> }> {
  const source = `
    const body = JSON.stringify({
      id: 'post-1',
      title: 'Caching tRPC query results without surprises',
      author: { id: 42, name: 'Ada Lovelace' },
      tags: ['trpc', 'cache', 'http'],
      stats: { views: 12345, likes: 678 },
    });
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
  const cpuBefore = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ns = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpuBefore);
  return { wall: total / (ns / 1e9), cpu: (cpu.user + cpu.system) / total };
}

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
  const kyOnly = ky.create({ retry: 0, timeout: 30_000, dispatcher: agent } as Parameters<
    typeof ky.create
  >[0]);
  const url = `${upstream.url}/data`;

  const contenders = {
    fetch: async () => {
      const response = await fetch(url, { dispatcher: agent } as RequestInit);
      if (!response.ok) throw new Error(`status ${response.status}`);
      return response.json();
    },
    ky: () => kyOnly.get(url).json(),
    getJson: () => client.getJson('data'),
  };
  type Name = keyof typeof contenders;
  const names = Object.keys(contenders) as Name[];
  for (const name of names) await run(contenders[name], TOTAL, CONCURRENCY); // warm-up
  const best = Object.fromEntries(
    names.map((name) => [name, { wall: 0, cpu: Number.POSITIVE_INFINITY }]),
  ) as Record<Name, Cost>;
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) {
      const cost = await run(contenders[name], TOTAL, CONCURRENCY);
      best[name] = { wall: Math.max(best[name].wall, cost.wall), cpu: Math.min(best[name].cpu, cost.cpu) };
    }
  }

  const us = (name: Name) => `${best[name].cpu.toFixed(0)} µs CPU/request`;
  report(
    'getJson / raw fetch, client CPU per request (2k req, conc. 20)',
    best.getJson.cpu / best.fetch.cpu,
    'x',
    { op: '<=', value: 1.15 },
    `${us('getJson')} vs ${us('fetch')}`,
  );
  report(
    'getJson / raw fetch, wall time',
    best.fetch.wall / best.getJson.wall,
    'x',
    { op: '<=', value: 1.15 },
    `${fmt(best.getJson.wall)} vs ${fmt(best.fetch.wall)} req/s`,
  );
  report('  of which ky alone / raw fetch (CPU)', best.ky.cpu / best.fetch.cpu, 'x', undefined, us('ky'));
  report(
    '  of which getJson / ky alone (retry, URL, parsing; CPU)',
    best.getJson.cpu / best.ky.cpu,
    'x',
    undefined,
  );

  await client.close();
  await agent.close();
  await upstream.stop();
}

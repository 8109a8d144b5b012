/**
 * http: the cost of `ResilientClient.getJson` (ky + retry wrapper + URL and
 * body handling) against a raw `fetch` through an undici `Agent` configured like
 * the client's own, both against the same local keep-alive server: 2,000
 * requests at concurrency 20, best of interleaved rounds. Every contender does
 * the same work (GET, status check, body read as text, `JSON.parse`). The server
 * runs in a child process, so the client's CPU time can be measured alone: that
 * figure holds steady on a busy machine, where wall time does not.
 *
 * A second part runs ky with a stub `fetch` (no network): what is left is
 * ky's own work per call, which no option of ky 1.x removes (it builds a
 * `Request` that follows an abort signal, clones it for retries, and merges
 * options and headers for every call). Added to the raw-fetch cost, it gives the
 * lowest ratio any ky-based client can reach on this machine.
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
const ROUNDS = 11;
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

/** Best wall and CPU figures of each contender over interleaved rounds (order rotated each round). */
async function bestOf<K extends string>(
  contenders: Record<K, () => Promise<unknown>>,
  total: number,
): Promise<Record<K, Cost>> {
  const names = Object.keys(contenders) as K[];
  for (const name of names) await run(contenders[name], total, CONCURRENCY); // warm-up
  const best = Object.fromEntries(
    names.map((name) => [name, { wall: 0, cpu: Number.POSITIVE_INFINITY }]),
  ) as Record<K, Cost>;
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < names.length; i++) {
      const name = names[(round + i) % names.length] as K;
      const cost = await run(contenders[name], total, CONCURRENCY);
      best[name] = { wall: Math.max(best[name].wall, cost.wall), cpu: Math.min(best[name].cpu, cost.cpu) };
    }
  }
  return best;
}

const parse = (text: string): unknown => (text === '' ? '' : JSON.parse(text));

/** ky's own CPU per call: ky with a stub `fetch` minus the stub called directly. */
async function kyOwnCost(): Promise<number> {
  // The stub does what fetch does with its input before any I/O: it builds a Request.
  const stub = (input: RequestInfo | URL, init?: RequestInit) => {
    new Request(input, init);
    return Promise.resolve(new Response(BODY, { headers: { 'content-type': 'application/json' } }));
  };
  const stubbed = ky.create({ retry: 0, timeout: 30_000, fetch: stub });
  const url = 'http://127.0.0.1:9/data';
  const best = await bestOf(
    {
      stub: async () => parse(await (await stub(url)).text()),
      ky: async () => parse(await (await stubbed.get(url)).text()),
    },
    TOTAL * 5,
  );
  return best.ky.cpu - best.stub.cpu;
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

  const best = await bestOf(
    {
      fetch: async () => {
        const response = await fetch(url, { dispatcher: agent } as RequestInit);
        if (!response.ok) throw new Error(`status ${response.status}`);
        return parse(await response.text());
      },
      ky: async () => parse(await (await kyOnly.get(url)).text()),
      getJson: () => client.getJson('data'),
    },
    TOTAL,
  );
  const kyOwn = await kyOwnCost();

  const us = (cpu: number) => `${cpu.toFixed(0)} µs CPU/request`;
  report(
    'getJson / raw fetch, client CPU per request (2k req, conc. 20)',
    best.getJson.cpu / best.fetch.cpu,
    'x',
    { op: '<=', value: 1.15 },
    `${us(best.getJson.cpu)} vs ${us(best.fetch.cpu)}`,
  );
  report(
    'getJson / raw fetch, wall time',
    best.fetch.wall / best.getJson.wall,
    'x',
    { op: '<=', value: 1.15 },
    `${fmt(best.getJson.wall)} vs ${fmt(best.fetch.wall)} req/s`,
  );
  report(
    '  of which ky alone / raw fetch (CPU)',
    best.ky.cpu / best.fetch.cpu,
    'x',
    undefined,
    us(best.ky.cpu),
  );
  report(
    '  of which getJson / ky alone (retry, URL, parsing; CPU)',
    best.getJson.cpu / best.ky.cpu,
    'x',
    undefined,
  );
  report(
    '  lowest reachable with ky: (raw fetch + ky own work) / raw fetch',
    (best.fetch.cpu + kyOwn) / best.fetch.cpu,
    'x',
    undefined,
    `ky's own work, stub fetch: ${us(kyOwn)}`,
  );
  console.log(`  (load average when done: ${loadavg()[0]?.toFixed(2)} on this machine)`);

  await client.close();
  await agent.close();
  await upstream.stop();
}

// Run in the project made by the README's server install line alone (no client,
// no React, no ioredis, no zod): memorize on the memory backend and
// ResilientClient against a local upstream, printed as one JSON line.
import { createServer } from 'node:http';
import { initTRPC } from '@trpc/server';
import { initCache, memorize, ResilientClient } from '@trpc-memory/server';

const upstreamServer = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ path: req.url }));
});
await new Promise((resolve) => upstreamServer.listen(0, '127.0.0.1', resolve));
const upstream = new ResilientClient({ baseUrl: `http://127.0.0.1:${upstreamServer.address().port}` });

await initCache({ expire: 60 });
let runs = 0;
const t = initTRPC.create();
const router = t.router({
  item: t.procedure
    .input((raw) => String(raw))
    .use(memorize({ expire: 60 }))
    .query(({ input }) => {
      runs++;
      return upstream.getJson(`items/${input}`);
    }),
});
const caller = t.createCallerFactory(router)({});
const results = [await caller.item('a'), await caller.item('a'), await caller.item('b')];
let redisError = null;
await initCache({ backend: 'redis', url: 'redis://127.0.0.1:6379' }).catch((error) => {
  redisError = error.message;
});

await upstream.close();
upstreamServer.close();
console.log(JSON.stringify({ node: process.versions.node, results, runs, redisError }));

/**
 * @trpc-memory/server in the Edge Runtime that Next.js runs `runtime = 'edge'`
 * routes and middleware in (the `edge-runtime` package: a V8 context with only
 * Web APIs, no `process`, no `require`, no Node built-ins). The published
 * package is bundled with the edge export conditions, as Next.js bundles it, and
 * serves a tRPC fetch-adapter app: memorize on the memory backend,
 * cacheHeaders(), invalidates() and ResilientClient.getJson against a local
 * upstream, all over real HTTP.
 */
import { randomUUID } from 'node:crypto';
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EdgeRuntime, runServer } from 'edge-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalServer, reply, startServer } from '../../packages/server/test/http/local-server.js';
import { type Bundle, bundleFor } from './bundle.js';
import { cacheRoot, packedPackages, unpack } from './pack.js';

const app = join(cacheRoot, 'edge-runtime', randomUUID());
let bundle: Bundle;
let upstream: LocalServer;
let edge: Awaited<ReturnType<typeof runServer>>;

beforeAll(async () => {
  const { server } = await packedPackages();
  await unpack(server, join(app, 'node_modules', '@trpc-memory', 'server'));
  const entry = join(app, 'edge-app.mjs');
  await copyFile(fileURLToPath(new URL('./fixtures/edge-app.mjs', import.meta.url)), entry);
  bundle = await bundleFor(entry, 'edge-light', { root: app, format: 'iife' });

  upstream = await startServer((req, res) => {
    const id = /^\/posts\/([^/?]+)/.exec(req.url ?? '')?.[1];
    if (id === 'missing') reply(res, 404, { error: 'no such post' });
    else reply(res, 200, { id, title: `Post ${id}` });
  });
  const runtime = new EdgeRuntime({
    initialCode: bundle.code,
    extend: (context) => Object.assign(context, { UPSTREAM_URL: upstream.url }),
  });
  edge = await runServer({ runtime, host: '127.0.0.1', port: 0 });
}, 240_000);

afterAll(async () => {
  await edge?.close();
  await upstream?.close();
  await rm(app, { recursive: true, force: true });
});

const query = (path: string, input: unknown) =>
  fetch(`${edge.url}trpc/${path}?input=${encodeURIComponent(JSON.stringify(input))}`);

async function runtimeInfo() {
  const response = await fetch(`${edge.url}trpc/runtime`);
  return ((await response.json()) as { result: { data: Record<string, unknown> } }).result.data;
}

describe('the published server package in the Edge Runtime', () => {
  it('bundles with the edge conditions without any Node-only module', () => {
    expect(bundle.nodeOnly).toEqual([]);
    expect(bundle.inputs).toContain('node_modules/@trpc-memory/server/dist/http/pool-fetch.mjs');
  });

  it('runs in a context without process or require', async () => {
    expect(await runtimeInfo()).toMatchObject({ edgeRuntime: true, hasProcess: false, hasRequire: false });
  });

  it('memorizes a query on the memory backend and reports it through cacheHeaders()', async () => {
    const first = await query('post.byId', { id: 'edge-1' });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ result: { data: { id: 'edge-1', title: 'Post edge-1' } } });
    expect(first.headers.get('trpc-memory-cache')).toBe('miss');
    expect(first.headers.get('cache-control')).toMatch(/^public, max-age=(59|60)$/);

    const second = await query('post.byId', { id: 'edge-1' });
    expect(await second.json()).toEqual({ result: { data: { id: 'edge-1', title: 'Post edge-1' } } });
    expect(second.headers.get('trpc-memory-cache')).toBe('hit');
    expect(Number(second.headers.get('trpc-memory-ttl'))).toBeGreaterThan(0);
    expect(Number(second.headers.get('trpc-memory-ttl'))).toBeLessThanOrEqual(60);

    const upstreamCalls = upstream.requests.filter((request) => request.url === '/posts/edge-1');
    expect(upstreamCalls).toHaveLength(1);
  });

  it('drops the cached results with invalidates() after a mutation and tells the client', async () => {
    await query('post.byId', { id: 'edge-2' });
    const before = (await runtimeInfo()).runs as number;
    const mutation = await fetch(`${edge.url}trpc/post.rename`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'edge-2' }),
    });
    expect(mutation.status).toBe(200);
    expect(mutation.headers.get('trpc-memory-invalidates')).toBe('post.byId');

    const after = await query('post.byId', { id: 'edge-2' });
    expect(after.headers.get('trpc-memory-cache')).toBe('miss');
    expect((await runtimeInfo()).runs).toBe(before + 1);
  });

  it("maps an upstream error through ResilientClient.getJson on the platform's fetch", async () => {
    const response = await query('post.byId', { id: 'missing' });
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: { data: { code: string } } };
    expect(body.error.data.code).toBe('NOT_FOUND');
    // A 4xx is not retried, and an error is not cached.
    await query('post.byId', { id: 'missing' });
    expect(upstream.requests.filter((request) => request.url === '/posts/missing')).toHaveLength(2);
  });

  it('refuses what the platform cannot do with errors that say so', async () => {
    const info = await runtimeInfo();
    expect(info.verifyFalse).toMatch(/option "verify" must be true on this runtime \(its fetch transport/);
    const redis = await fetch(`${edge.url}trpc/redis`);
    const message = ((await redis.json()) as { result: { data: string } }).result.data;
    expect(message).toMatch(/the Redis backend runs on Node only/);
  });
});

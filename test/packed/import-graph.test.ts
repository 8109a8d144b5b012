/**
 * What a bundler for each runtime pulls in through the published main entry of
 * @trpc-memory/server: on edge and worker runtimes nothing Node-only (no `node:*`
 * built-in, no undici, no ioredis, not even behind `initCache`'s dynamic
 * import); on Node the undici transport.
 */
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleFor, type Runtime } from './bundle.js';
import { cacheRoot, packedPackages, unpack } from './pack.js';

const app = join(cacheRoot, 'import-graph', randomUUID());
const entry = join(app, 'entry.mjs');

beforeAll(async () => {
  const { server } = await packedPackages();
  await unpack(server, join(app, 'node_modules', '@trpc-memory', 'server'));
  // Everything the main entry exports, kept alive so nothing is tree-shaken away.
  await writeFile(entry, "import * as server from '@trpc-memory/server';\nglobalThis.server = server;\n");
}, 240_000);

afterAll(async () => {
  await rm(app, { recursive: true, force: true });
});

describe.each(['edge-light', 'workerd'] satisfies Runtime[])('the main entry bundled for %s', (runtime) => {
  it('imports no Node built-in, undici or ioredis', async () => {
    const bundle = await bundleFor(entry, runtime, { root: app });
    expect(bundle.nodeOnly).toEqual([]);
    expect(bundle.inputs.filter((input) => /node_modules\/(undici|ioredis)\//.test(input))).toEqual([]);
  });

  it('runs ResilientClient on the platform fetch, and leaves the Redis entry out of the bundle', async () => {
    const bundle = await bundleFor(entry, runtime, { root: app });
    const ours = bundle.inputs.filter((input) => input.includes('@trpc-memory/server/'));
    expect(ours).toContain('node_modules/@trpc-memory/server/dist/http/pool-fetch.mjs');
    expect(ours).not.toContain('node_modules/@trpc-memory/server/dist/http/pool-undici.mjs');
    expect(ours).not.toContain('node_modules/@trpc-memory/server/dist/redis.mjs');
  });
});

describe('the main entry bundled for node', () => {
  it('runs ResilientClient on the undici transport', async () => {
    const bundle = await bundleFor(entry, 'node', { root: app });
    expect(bundle.inputs).toContain('node_modules/@trpc-memory/server/dist/http/pool-undici.mjs');
    expect(bundle.inputs).not.toContain('node_modules/@trpc-memory/server/dist/http/pool-fetch.mjs');
    expect(bundle.nodeOnly.some((module) => module.startsWith('undici ←'))).toBe(true);
    expect(bundle.nodeOnly.some((module) => module.startsWith('ioredis'))).toBe(false);
  });
});

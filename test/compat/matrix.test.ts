/**
 * The compatibility matrix: the packed packages installed into fresh consumer
 * projects with the oldest supported and the latest releases of their peers,
 * next to tRPC's own React integrations, and exercised there on Node 20, 22 and
 * 24 (memorize hit/miss on the memory and Redis backends, the client mirroring
 * the server's TTLs and invalidations over real HTTP, the typed hooks rendering
 * on the server). The floors named here are the peer ranges' lower bounds in
 * packages/{server,client}/package.json; the reasons are in the README.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { packedPackages } from '../packed/pack.js';
import {
  type Cell,
  installCell,
  nodeBinary,
  PEER_TROUBLE,
  type Project,
  runScenario,
  typecheck,
} from './consumer-project.js';

const NODES = [20, 22, 24];

/** In the order they run: the README's own lines first, then the floors, then next to tRPC's integrations. */
const CELLS: (Cell & { title: string; majors: Record<string, number>; exact?: Record<string, string> })[] = [
  {
    name: 'server-only',
    title: "the README's server install line alone in an empty project (no client, no ioredis, no zod)",
    steps: [{ packages: ['server', '@trpc/server'] }],
    typecheck: [],
    scenario: 'server-only.mjs',
    majors: { '@trpc/server': 11 },
  },
  {
    name: 'latest',
    title:
      "the README's install lines, client first, in an empty project: latest tRPC 11, React Query 5, React 19; ioredis 6, zod 4",
    steps: [
      { packages: ['client', '@trpc/client', '@trpc/server', '@tanstack/react-query', 'react'] },
      { packages: ['server', '@trpc/server'] },
      { packages: ['ioredis', 'zod', 'react-dom'] },
      { packages: ['typescript', '@types/node@^20', '@types/react@^19'], dev: true },
    ],
    typecheck: ['typed.ts', 'typed-redis.ts'],
    majors: {
      '@trpc/server': 11,
      '@trpc/client': 11,
      '@tanstack/react-query': 5,
      react: 19,
      ioredis: 6,
      zod: 4,
    },
  },
  {
    name: 'oldest',
    title:
      'the oldest supported peers: tRPC 11.4.0, React Query 5.62.0, React 18.2.0, ioredis 5.2.5, zod 3.25.1',
    steps: [
      {
        packages: [
          'server',
          'client',
          '@trpc/server@11.4.0',
          '@trpc/client@11.4.0',
          '@tanstack/react-query@5.62.0',
          'react@18.2.0',
          'react-dom@18.2.0',
          'ioredis@5.2.5',
          'zod@3.25.1',
        ],
      },
      { packages: ['typescript@5.7.2', '@types/node@^20', '@types/react@^18'], dev: true },
    ],
    typecheck: ['typed.ts'],
    majors: {
      '@trpc/server': 11,
      '@trpc/client': 11,
      '@tanstack/react-query': 5,
      react: 18,
      ioredis: 5,
      zod: 3,
    },
    exact: {
      '@trpc/server': '11.4.0',
      '@trpc/client': '11.4.0',
      '@tanstack/react-query': '5.62.0',
      react: '18.2.0',
      ioredis: '5.2.5',
      zod: '3.25.1',
    },
  },
  {
    name: 'tanstack-react-query',
    title: 'added to an app on @trpc/tanstack-react-query@^11 (its pinned tRPC), React 19, ioredis 5, zod 3',
    steps: [
      {
        packages: [
          '@trpc/tanstack-react-query@^11',
          '@tanstack/react-query',
          'react@^19',
          'react-dom@^19',
          'ioredis@^5',
          'zod@^3',
        ],
      },
      { packages: ['server', 'client'] },
    ],
    typecheck: [],
    majors: { '@tanstack/react-query': 5, react: 19, ioredis: 5, zod: 3 },
  },
  {
    name: 'classic-react-query',
    title:
      'added to an app on the classic @trpc/react-query@^11 (its pinned tRPC), React 18, ioredis 6, zod 4',
    steps: [
      {
        packages: [
          '@trpc/react-query@^11',
          '@tanstack/react-query',
          'react@^18',
          'react-dom@^18',
          'ioredis@^6',
          'zod@^4',
        ],
      },
      { packages: ['server', 'client'] },
    ],
    typecheck: [],
    majors: { '@tanstack/react-query': 5, react: 18, ioredis: 6, zod: 4 },
  },
];

function expectWorking(seen: Record<string, unknown>, major: number): void {
  expect(seen.node).toMatch(new RegExp(`^${major}\\.`));
  const miss = { data: { id: '1', title: 'Post 1' }, stale: false, source: 'miss' };
  expect(seen.memory).toEqual({
    miss,
    hit: { ...miss, source: 'hit' },
    resolverRuns: 1,
    upstreamCalls: 1,
    invalidatedOnClient: true,
    afterMutation: miss,
    resolverRunsAfterMutation: 2,
  });
  expect(seen.react).toEqual({ html: expect.stringContaining('<h1>Post 2</h1>'), stale: false });
  expect(seen.redis).toEqual({
    miss: { data: { id: '3', title: 'Post 3' }, stale: false, source: 'miss' },
    hit: { data: { id: '3', title: 'Post 3' }, stale: false, source: 'hit' },
    resolverRuns: 1,
    // The entry, and the fence of its namespace.
    keysInRedis: 2,
    keysAfterClear: 0,
  });
  expect(seen.redisClient).toEqual({ roundTrip: true, ttlMs: expect.any(Number) });
  const { ttlMs } = seen.redisClient as { ttlMs: number };
  expect(ttlMs).toBeGreaterThan(0);
  expect(ttlMs).toBeLessThanOrEqual(30_000);
}

describe.each(CELLS)('$name: $title', (cell) => {
  let project: Project;

  beforeAll(async () => {
    project = await installCell(cell, await packedPackages());
  }, 600_000);

  it('installs without a peer warning or ERESOLVE, with the intended versions', () => {
    const trouble = project.installLog.split('\n').filter((line) => PEER_TROUBLE.test(line));
    expect(trouble).toEqual([]);
    for (const [name, major] of Object.entries(cell.majors)) {
      const installed = project.versions[name] ?? project.versions[`@trpc/${name}`];
      if (installed !== undefined) expect(Number(installed.split('.')[0]), name).toBe(major);
    }
    if (cell.exact !== undefined) expect(project.versions).toMatchObject(cell.exact);
  });

  if (cell.typecheck.length > 0) {
    it(`type-checks the published .d.ts files and typed usage (${cell.typecheck.join(', ')})`, async () => {
      expect(await typecheck(project, cell.typecheck)).toEqual([]);
    }, 180_000);
  }

  it.each(NODES)(
    'works on Node %i',
    async (major) => {
      const seen = await runScenario(project, cell, await nodeBinary(major));
      if (cell.name === 'server-only') {
        expect(seen.node).toMatch(new RegExp(`^${major}\\.`));
        expect(seen.results).toEqual([{ path: '/items/a' }, { path: '/items/a' }, { path: '/items/b' }]);
        expect(seen.runs).toBe(2);
        expect(seen.redisError).toMatch(
          /needs the optional peer dependency ioredis: run `npm install ioredis`/,
        );
        return;
      }
      expectWorking(seen, major);
      if (cell.name === 'tanstack-react-query') {
        expect(seen.tanstackReactQuery).toEqual({
          data: { id: '4', title: 'Post 4' },
          stale: false,
          source: 'miss',
        });
      }
    },
    300_000,
  );
});

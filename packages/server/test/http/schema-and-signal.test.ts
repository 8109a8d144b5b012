import type { AddressInfo } from 'node:net';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { InvalidOptionError, ResilientClient, UpstreamSchemaError } from '../../src/index.js';
import { until } from '../helpers/time.js';
import { reply, startServer } from './local-server.js';

const Post = z.object({
  id: z.number(),
  title: z.string(),
  tags: z.array(z.string()),
  published: z.string().transform((s) => new Date(s)),
});

describe('getJson with a schema', () => {
  it('validates, transforms and types the body', async () => {
    await using server = await startServer((_req, res) =>
      reply(res, 200, { id: 1, title: 'Hello', tags: ['a'], published: '2030-01-02T00:00:00Z', extra: true }),
    );
    await using client = new ResilientClient({ baseUrl: server.url });
    const post = await client.getJson('posts/1', undefined, { schema: Post });
    expectTypeOf(post).toEqualTypeOf<{ id: number; title: string; tags: string[]; published: Date }>();
    expect(post).toEqual({ id: 1, title: 'Hello', tags: ['a'], published: new Date('2030-01-02T00:00:00Z') });

    const untyped = await client.getJson('posts/1');
    expectTypeOf(untyped).toBeUnknown();
    const asserted = await client.getJson<{ id: number }>('posts/1');
    expectTypeOf(asserted).toEqualTypeOf<{ id: number }>();
  });

  it('turns a body that does not match into BAD_GATEWAY naming the failing fields, without retrying', async () => {
    await using server = await startServer((_req, res) =>
      reply(res, 200, { id: '1', title: 'Hello', tags: ['a', 2], published: '2030-01-02' }),
    );
    await using client = new ResilientClient({ baseUrl: server.url });
    const error = await client.getJson('posts/1', undefined, { schema: Post }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TRPCError);
    expect(error).toMatchObject({ code: 'BAD_GATEWAY' });
    const { message, cause } = error as TRPCError;
    expect(message).toMatch(/^Upstream GET \/posts\/1 does not match the schema: id: .+; tags\.1: .+$/);
    expect(cause).toBeInstanceOf(UpstreamSchemaError);
    expect((cause as UpstreamSchemaError).fields).toEqual(['id', 'tags.1']);
    expect((cause as UpstreamSchemaError).issues).toHaveLength(2);
    expect(server.requests).toHaveLength(1);
  });

  it('reports a body that is not an object at all as (root)', async () => {
    await using server = await startServer((_req, res) => reply(res, 200, 'maintenance page'));
    await using client = new ResilientClient({ baseUrl: server.url });
    await expect(client.getJson('posts/1', undefined, { schema: Post })).rejects.toThrow(
      /does not match the schema: \(root\): /,
    );
  });

  it('refuses something that is not a schema', async () => {
    await using client = new ResilientClient({ baseUrl: 'http://127.0.0.1:1' });
    await expect(client.getJson('x', undefined, { schema: { parse: () => 1 } as never })).rejects.toThrow(
      InvalidOptionError,
    );
  });
});

describe('cancellation through `signal`', () => {
  it('an abort during a retry sleep stops at once: no further upstream request', async () => {
    await using server = await startServer((_req, res) => reply(res, 503, 'down'));
    let sleeping!: () => void;
    const asleep = new Promise<void>((resolve) => {
      sleeping = resolve;
    });
    // Ten minutes between attempts: the call can only end through the abort.
    await using client = new ResilientClient({
      baseUrl: server.url,
      retryWaitMin: 600,
      retryWaitMax: 600,
      beforeRetry: () => sleeping(),
    });
    const controller = new AbortController();
    const pending = client.getRaw('x', undefined, { signal: controller.signal }).catch((e: unknown) => e);
    await asleep;
    const reason = new Error('caller went away');
    controller.abort(reason);
    await expect(pending).resolves.toBe(reason);
    expect(server.requests).toHaveLength(1);

    const mapped = new AbortController();
    const again = client.getJson('x', undefined, { signal: mapped.signal }).catch((e: unknown) => e);
    await until(() => server.requests.length === 2, { what: 'the second request reached the server' });
    mapped.abort();
    await expect(again).resolves.toMatchObject({ code: 'CLIENT_CLOSED_REQUEST' });
    expect(server.requests).toHaveLength(2);
  });

  it('an abort cancels the request in flight', async () => {
    // Never answers: only the abort can end the call.
    await using server = await startServer(() => {});
    await using client = new ResilientClient({ baseUrl: server.url });
    const controller = new AbortController();
    const pending = client.getJson('slow', undefined, { signal: controller.signal }).catch((e: unknown) => e);
    await until(() => server.requests.length === 1, { what: 'the request reached the server' });
    controller.abort();
    await expect(pending).resolves.toMatchObject({ code: 'CLIENT_CLOSED_REQUEST' });
    expect(server.requests).toHaveLength(1);
  });

  it("a cancelled tRPC request stops its resolver's upstream retries", async () => {
    await using upstream = await startServer((_req, res) => reply(res, 503, 'down'));
    await using client = new ResilientClient({
      baseUrl: upstream.url,
      retryAttempts: 5,
      retryWaitMin: 0.3,
      retryWaitMax: 0.3,
    });
    let settle!: (outcome: unknown) => void;
    const resolverOutcome = new Promise((resolve) => {
      settle = resolve;
    });
    const t = initTRPC.create();
    const router = t.router({
      data: t.procedure.query(async ({ signal }) => {
        try {
          return await client.getJson('data', undefined, { signal });
        } catch (error) {
          settle(error);
          throw error;
        }
      }),
    });
    const server = createHTTPServer({ router });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const trpc = createTRPCClient<typeof router>({
        links: [httpLink({ url: `http://127.0.0.1:${port}` })],
      });
      const controller = new AbortController();
      const call = trpc.data.query(undefined, { signal: controller.signal }).catch((e: unknown) => e);
      await until(() => upstream.requests.length > 0, { what: 'the resolver reached the upstream' });
      controller.abort();
      expect(await call).toBeInstanceOf(TRPCClientError);
      // The resolver ends through the abort, long before its 4 remaining attempts.
      expect(await resolverOutcome).toMatchObject({ code: 'CLIENT_CLOSED_REQUEST' });
      expect(upstream.requests).toHaveLength(1);
    } finally {
      server.close();
    }
  });
});

import type { QueryClient, UseMutationResult, UseQueryResult } from '@tanstack/react-query';
import { skipToken } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink, type TRPCClientErrorLike } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { cacheHintsHeaders, cacheHintsLink, createMemoHooks, type TRPCQueryKey } from '../src/index.js';

const t = initTRPC.create();
const appRouter = t.router({
  post: t.router({
    byId: t.procedure
      .input(z.object({ id: z.string() }))
      .query(({ input }) => ({ id: input.id, title: 'x', createdAt: new Date() })),
    list: t.procedure.query(() => [{ id: 'a' }]),
    create: t.procedure.input(z.object({ title: z.string() })).mutation(() => ({ id: 'new' as const })),
  }),
  live: t.procedure.subscription(async function* () {
    yield 1;
  }),
});
type AppRouter = typeof appRouter;
type ErrorOf = TRPCClientErrorLike<{
  transformer: false;
  errorShape: AppRouter['_def']['_config']['$types']['errorShape'];
}>;

const client = createTRPCClient<AppRouter>({
  links: [cacheHintsLink(), httpBatchLink({ url: 'http://127.0.0.1:1', headers: cacheHintsHeaders() })],
});
const api = createMemoHooks<AppRouter>({ client });

describe('createMemoHooks<AppRouter>: types come from the router', () => {
  it('types useQuery data and error from the procedure', () => {
    const result = api.post.byId.useQuery({ id: '1' });
    expectTypeOf(result).toEqualTypeOf<
      UseQueryResult<{ id: string; title: string; createdAt: string }, ErrorOf>
    >();
    expectTypeOf(result.data).toEqualTypeOf<{ id: string; title: string; createdAt: string } | undefined>();
  });

  it('makes a wrong input a compile error', () => {
    // @ts-expect-error — `id` must be a string
    api.post.byId.useQuery({ id: 1 });
    // @ts-expect-error — the input is required
    api.post.byId.useQuery();
    // @ts-expect-error — unknown procedure
    api.post.byID.useQuery({ id: '1' });
    // @ts-expect-error — a query has no useMutation
    api.post.byId.useMutation();
    // @ts-expect-error — a mutation has no useQuery
    api.post.create.useQuery({ title: 'x' });
    // @ts-expect-error — subscriptions have no hooks here
    api.live.useQuery();
  });

  it('lets a procedure without input be called without one, and accepts skipToken', () => {
    expectTypeOf(api.post.list.useQuery().data).toEqualTypeOf<{ id: string }[] | undefined>();
    expectTypeOf(api.post.byId.useQuery(skipToken).data).toEqualTypeOf<
      { id: string; title: string; createdAt: string } | undefined
    >();
  });

  it('applies select to the data type', () => {
    const titles = api.post.byId.useQuery({ id: '1' }, { select: (post) => post.title });
    expectTypeOf(titles.data).toEqualTypeOf<string | undefined>();
  });

  it('types useSuspenseQuery data as always present', () => {
    expectTypeOf(api.post.byId.useSuspenseQuery({ id: '1' }).data).toEqualTypeOf<{
      id: string;
      title: string;
      createdAt: string;
    }>();
  });

  it('types useMutation variables and result', () => {
    const create = api.post.create.useMutation();
    expectTypeOf(create).toEqualTypeOf<
      UseMutationResult<{ id: 'new' }, ErrorOf, { title: string }, unknown>
    >();
    // @ts-expect-error — wrong variables
    create.mutate({ name: 'x' });
  });

  it('types queryKey and queryOptions for the QueryClient', () => {
    const key = api.post.byId.queryKey({ id: '1' });
    expectTypeOf(key).toExtend<TRPCQueryKey>();
    const queryClient = {} as QueryClient;
    expectTypeOf(queryClient.getQueryData(key)).toEqualTypeOf<
      { id: string; title: string; createdAt: string } | undefined
    >();
    expectTypeOf(queryClient.fetchQuery(api.post.byId.queryOptions({ id: '1' }))).resolves.toEqualTypeOf<{
      id: string;
      title: string;
      createdAt: string;
    }>();
  });
});

import { initTRPC } from '@trpc/server';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { type InvalidatesCall, type InvalidatesPaths, invalidates } from '../../src/index.js';

interface Ctx {
  user: string | null;
}

describe('invalidates types', () => {
  it('types the call a path function receives from the mutation: context, validated input', () => {
    const t = initTRPC.context<Ctx>().create();
    const router = t.router({
      rename: t.procedure
        .input(z.object({ id: z.string(), title: z.string() }))
        .use(
          invalidates(({ input, ctx, data, path }) => {
            expectTypeOf(input).toEqualTypeOf<{ id: string; title: string }>();
            expectTypeOf(ctx).toEqualTypeOf<Ctx>();
            expectTypeOf(data).toBeUnknown();
            expectTypeOf(path).toBeString();
            return [`post.byId`, `user.${ctx.user}`];
          }),
        )
        .mutation(({ input }) => input.id),
      create: t.procedure.use(invalidates(['post.list', 'post.byId'] as const)).mutation(() => 'new'),
      later: t.procedure.use(invalidates(async () => ['post.list'])).mutation(() => 'ok'),
    });
    type Caller = ReturnType<ReturnType<typeof t.createCallerFactory<typeof router._def.record>>>;
    expectTypeOf<Caller['rename']>().parameters.toEqualTypeOf<[{ id: string; title: string }]>();
    expectTypeOf<Caller['rename']>().returns.resolves.toEqualTypeOf<string>();
  });

  it('accepts a list of paths or a function returning one, nothing else', () => {
    expectTypeOf<readonly string[]>().toExtend<InvalidatesPaths>();
    expectTypeOf<(call: InvalidatesCall) => Promise<string[]>>().toExtend<InvalidatesPaths>();
    // @ts-expect-error one path is still a list
    invalidates('post.byId');
    // @ts-expect-error paths are strings
    invalidates([1, 2]);
    // @ts-expect-error the function returns paths
    invalidates(() => 'post.byId');
    // @ts-expect-error `router` is a function returning the router (it refers to itself)
    invalidates(['post.list'], { router: {} });
  });
});

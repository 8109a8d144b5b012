import { initTRPC } from '@trpc/server';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  type InvalidationTarget,
  invalidate,
  invalidates,
  type MemorizeTagsCall,
  memorize,
  memorizeFn,
} from '../../src/index.js';

interface Ctx {
  userId: string;
}
interface Post {
  id: string;
  authorId: string;
}
const t = initTRPC.context<Ctx>().create();

describe('types of targets and tags', () => {
  it('targets are paths, inputs and tags; anything else is refused', () => {
    expectTypeOf<'post.list'>().toExtend<InvalidationTarget>();
    expectTypeOf<{ path: 'post.byId'; input: { id: string } }>().toExtend<InvalidationTarget>();
    expectTypeOf<{ path: 'me' }>().toExtend<InvalidationTarget>();
    expectTypeOf<{ tag: 'post:1' }>().toExtend<InvalidationTarget>();
    // One scope of a scoped procedure: its id, a string.
    expectTypeOf<{ path: 'me.note'; input: { id: string }; scope: string }>().toExtend<InvalidationTarget>();
    expectTypeOf<{
      path: 'me.note';
      input: { id: string };
      scope: number;
    }>().not.toExtend<InvalidationTarget>();
    expectTypeOf<{ path: 'me.note'; scope: undefined }>().not.toExtend<InvalidationTarget>();
    expectTypeOf<{ tags: 'post:1' }>().not.toExtend<InvalidationTarget>();
    expectTypeOf<number>().not.toExtend<InvalidationTarget>();
    expectTypeOf(invalidate).returns.toEqualTypeOf<Promise<void>>();
  });

  it("a tags function sees the procedure's context and the data type it names", () => {
    t.procedure
      .input(z.object({ id: z.string() }))
      .use(
        memorize<Ctx, Post>({
          tags: (call) => {
            expectTypeOf(call).toEqualTypeOf<MemorizeTagsCall<Ctx, Post>>();
            expectTypeOf(call.ctx.userId).toBeString();
            return [`post:${call.data.id}`, `author:${call.data.authorId}`];
          },
        }),
      )
      .query(({ input }): Post => ({ id: input.id, authorId: 'a' }));
    // @ts-expect-error tags are strings
    memorize({ tags: [1] });
    // @ts-expect-error a tags function returns strings
    memorize({ tags: () => 'one' });
    memorizeFn<[string]>({ tags: ({ input }) => [`user:${input[0]}`] });
  });

  it('invalidates() computes targets from the call', () => {
    t.procedure
      .input(z.object({ id: z.string() }))
      .use(
        invalidates<Ctx, { id: string }>(({ input, ctx }) => [
          { path: 'post.byId', input: { id: input.id } },
          { tag: `user:${ctx.userId}` },
        ]),
      )
      .mutation(() => true);
    // @ts-expect-error a target is a path, { path, input?, scope? } or { tag }
    invalidates([{ tags: 'x' }]);
    invalidates<Ctx, { id: string }>(({ input, ctx }) => [{ path: 'me.note', input, scope: ctx.userId }]);
    // @ts-expect-error a scope is the string scope(ctx) returns
    void invalidate([{ path: 'me.note', input: { id: '1' }, scope: 7 }]);
  });
});

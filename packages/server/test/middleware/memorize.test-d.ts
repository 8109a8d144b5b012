import { initTRPC } from '@trpc/server';
import { describe, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { type MemorizeKeyInput, type MemorizeMiddleware, memorize } from '../../src/index.js';

interface Ctx {
  user: string | null;
}

describe('memorize types', () => {
  it('keeps the input and output types of the procedure, in any position', () => {
    const t = initTRPC.context<Ctx>().create();
    const authed = t.procedure.use(({ ctx, next }) => next({ ctx: { userId: ctx.user ?? 'guest' } }));
    const router = t.router({
      after: t.procedure
        .input(z.object({ id: z.string() }))
        .use(memorize({ expire: 60 }))
        .query(({ input }) => ({ id: input.id, n: 1 })),
      before: t.procedure
        .use(memorize({ expire: 60 }))
        .input(z.object({ id: z.string() }))
        .query(({ input }) => ({ id: input.id })),
      scoped: authed
        .use(memorize({ scope: (ctx) => ctx.userId, key: ({ ctx, path }) => `${path}:${ctx.userId}` }))
        .query(({ ctx }) => ctx.userId),
    });
    type Caller = ReturnType<ReturnType<typeof t.createCallerFactory<typeof router._def.record>>>;
    expectTypeOf<Caller['after']>().parameters.toEqualTypeOf<[{ id: string }]>();
    expectTypeOf<Caller['after']>().returns.resolves.toEqualTypeOf<{ id: string; n: number }>();
    expectTypeOf<Caller['before']>().returns.resolves.toEqualTypeOf<{ id: string }>();
    expectTypeOf<Caller['scoped']>().returns.resolves.toEqualTypeOf<string>();
  });

  it('infers the context of scope and key from the procedure it is used on', () => {
    const t = initTRPC.context<Ctx>().create();
    const withTenant = t.procedure.use(({ next }) => next({ ctx: { tenant: 'acme' as const } }));
    t.router({
      plain: t.procedure
        .use(
          memorize({
            scope: (ctx) => {
              expectTypeOf(ctx).toEqualTypeOf<Ctx>();
              return ctx.user;
            },
            key: (call) => {
              expectTypeOf(call).toEqualTypeOf<MemorizeKeyInput<Ctx>>();
              expectTypeOf(call.input).toBeUnknown();
              expectTypeOf(call.path).toBeString();
              return call.path;
            },
          }),
        )
        .query(() => 1),
      // The context where memorize stands, overrides of earlier middlewares included.
      tenant: withTenant
        .use(
          memorize({
            scope: (ctx) => {
              expectTypeOf(ctx.tenant).toEqualTypeOf<'acme'>();
              expectTypeOf(ctx.user).toEqualTypeOf<string | null>();
              return ctx.tenant;
            },
          }),
        )
        .query(() => 1),
      // @ts-expect-error the context has no `tenant` here
      wrong: t.procedure.use(memorize({ scope: (ctx) => ctx.tenant })).query(() => 1),
    });
  });

  it('takes a context type explicitly, for a middleware defined apart from its procedure', () => {
    const mine = memorize<Ctx>({ expire: 30, scope: (ctx) => ctx.user });
    expectTypeOf(mine).toEqualTypeOf<MemorizeMiddleware<Ctx>>();
    // @ts-expect-error a scope returns a string, or null for "do not cache"
    memorize<Ctx>({ scope: (ctx) => ctx.user !== null });
    // @ts-expect-error expire is a number of seconds
    memorize({ expire: '60' });
    // @ts-expect-error scope is 'public' or a function
    memorize({ scope: 'private' });
    // @ts-expect-error a key is a string
    memorize({ key: () => 42 });
  });

  it('is usable as a shared middleware on procedures with different contexts', () => {
    const t = initTRPC.context<Ctx>().create();
    const shared = memorize({ expire: 60 });
    const authed = t.procedure.use(({ next }) => next({ ctx: { role: 'admin' as const } }));
    const router = t.router({
      a: t.procedure.use(shared).query(() => 1),
      b: authed.use(shared).query(({ ctx }) => ctx.role),
    });
    type Caller = ReturnType<ReturnType<typeof t.createCallerFactory<typeof router._def.record>>>;
    expectTypeOf<Caller['a']>().returns.resolves.toEqualTypeOf<number>();
    expectTypeOf<Caller['b']>().returns.resolves.toEqualTypeOf<'admin'>();
  });
});

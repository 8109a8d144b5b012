import { memorize } from '@trpc-memory/server';
import { settings } from '~/server/settings';
import { ran } from '~/server/store';
import { createTRPCRouter, publicProcedure } from '../trpc';

export const userRouter = createTRPCRouter({
  /**
   * The signed-in user's own data, cached per user (`scope`): one user's entry is
   * never served to another. Anonymous calls (`null` scope) are not cached.
   */
  me: publicProcedure
    .use(memorize({ expire: settings.meExpire, scope: (ctx) => ctx.user }))
    .query(({ ctx }) => {
      if (ctx.user === null) return null;
      return { name: ctx.user, secret: `${ctx.user}'s private note`, run: ran(`user.me:${ctx.user}`) };
    }),
});

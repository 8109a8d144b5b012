import { cachePolicy } from '@trpc-memory/server';
import { postRouter } from './routers/post';
import { userRouter } from './routers/user';
import { createTRPCRouter } from './trpc';

export const appRouter = createTRPCRouter({
  post: postRouter,
  user: userRouter,
});

export type AppRouter = typeof appRouter;

/**
 * What each procedure's cache does (memorized queries' `expire`, mutations'
 * `invalidates`): plain JSON the layout hands to the browser's `mirrorServerTtl`.
 */
export const policy = cachePolicy(appRouter);

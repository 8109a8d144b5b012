import { invalidates, memorize } from '@trpc-memory/server';
import { z } from 'zod';
import { settings } from '~/server/settings';
import { post, ran } from '~/server/store';
import { type Context, createTRPCRouter, publicProcedure } from '../trpc';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Every read of a post is stored with the tag `post:<id>` of the post it returned,
 * whichever procedure read it: renaming a post drops exactly those entries.
 */
const tagged = <TData extends { id: string }>(expire: number) =>
  memorize<Context, TData>({ expire, tags: ({ data }) => [`post:${data.id}`] });

/** The post the page features as the latest one. */
const HOME = 'home';

export const postRouter = createTRPCRouter({
  /** The latest post, shared by every visitor. */
  latest: publicProcedure.use(tagged(settings.postExpire)).query(() => ({
    id: HOME,
    ...post(HOME),
    run: ran('post.latest'),
    renderedAt: new Date(),
  })),

  /** A slow read of the latest post: the page does not wait for it, React streams it in. */
  slow: publicProcedure.use(tagged(settings.postExpire)).query(async () => {
    await wait(settings.slowDelay * 1000);
    return { id: HOME, ...post(HOME), run: ran('post.slow') };
  }),

  /** A post by id: the page prefetches two, the browser fetches one through its link. */
  byId: publicProcedure
    .input(z.object({ id: z.string().min(1).max(100) }))
    .use(tagged(settings.postExpire))
    .query(({ input }) => ({ id: input.id, ...post(input.id), run: ran(`post.byId:${input.id}`) })),

  /**
   * Renames one post. Only the cached reads of that post are dropped, on the server
   * and in the browser: renaming post `a` leaves post `b` (and the latest post) cached.
   */
  rename: publicProcedure
    .input(z.object({ id: z.string().min(1).max(100), title: z.string().min(1).max(200) }))
    .use(invalidates<Context, { id: string }>(({ input }) => [{ tag: `post:${input.id}` }]))
    .mutation(({ input }) => {
      const renamed = post(input.id);
      renamed.title = input.title;
      renamed.version += 1;
      return { id: input.id, ...renamed };
    }),
});

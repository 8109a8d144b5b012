import { invalidates, memorize } from '@trpc-memory/server';
import { z } from 'zod';
import { settings } from '~/server/settings';
import { ran, store } from '~/server/store';
import { createTRPCRouter, publicProcedure } from '../trpc';

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const postRouter = createTRPCRouter({
  /** The latest post, shared by every visitor. */
  latest: publicProcedure.use(memorize({ expire: settings.postExpire })).query(() => ({
    title: store.title,
    version: store.version,
    run: ran('post.latest'),
    renderedAt: new Date(),
  })),

  /** A slow read: the page does not wait for it, React streams it in. */
  slow: publicProcedure.use(memorize({ expire: settings.postExpire })).query(async () => {
    await wait(settings.slowDelay * 1000);
    return { title: store.title, version: store.version, run: ran('post.slow') };
  }),

  /** A post the page does not prefetch: the browser fetches it through its link. */
  byId: publicProcedure
    .input(z.object({ id: z.string() }))
    .use(memorize({ expire: settings.postExpire }))
    .query(({ input }) => ({
      id: input.id,
      title: `${store.title} (${input.id})`,
      version: store.version,
      run: ran(`post.byId:${input.id}`),
    })),

  /** Renames the post; the cached reads it changes are dropped, on the server and in the browser. */
  rename: publicProcedure
    .input(z.object({ title: z.string().min(1).max(200) }))
    .use(invalidates(['post.latest', 'post.slow', 'post.byId']))
    .mutation(({ input }) => {
      store.title = input.title;
      store.version += 1;
      return { title: store.title, version: store.version };
    }),
});

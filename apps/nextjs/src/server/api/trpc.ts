import { initTRPC } from '@trpc/server';
import superjson from 'superjson';

/**
 * The context of every call, made from the request's headers: the user is whoever
 * the `user` cookie names (a stand-in for real authentication).
 */
export function createTRPCContext(opts: { headers: Headers }) {
  const cookie = opts.headers.get('cookie') ?? '';
  const user = /(?:^|;\s*)user=([^;]+)/.exec(cookie)?.[1];
  return { user: user === undefined ? null : decodeURIComponent(user) };
}

export type Context = ReturnType<typeof createTRPCContext>;

const t = initTRPC.context<Context>().create({ transformer: superjson });

export const createTRPCRouter = t.router;
export const publicProcedure = t.procedure;

import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { cacheHeaders } from '@trpc-memory/server';
import { appRouter } from '~/server/api/root';
import { createTRPCContext } from '~/server/api/trpc';

const handler = (req: Request) =>
  fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    createContext: () => createTRPCContext({ headers: req.headers }),
    // Per-call TTL, hit/miss and invalidation headers for cacheHintsLink, and Cache-Control.
    responseMeta: cacheHeaders(),
  });

export { handler as GET, handler as POST };

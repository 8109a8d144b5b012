import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { cacheHeaders } from '@trpc-memory/server';
import { makeRouter } from '../../../../lib/router.js';

const router = makeRouter();
const handler = (req) =>
  fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router,
    createContext: () => ({}),
    responseMeta: cacheHeaders(),
  });

export const dynamic = 'force-dynamic';
export { handler as GET, handler as POST };

import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { cacheHeaders } from '@trpc-memory/server';
import { makeRouter } from '../../../../lib/router.js';

const router = makeRouter();
const handler = (req) =>
  fetchRequestHandler({
    endpoint: '/api/edge',
    req,
    router,
    createContext: () => ({}),
    responseMeta: cacheHeaders(),
  });

export const runtime = 'edge';
export const dynamic = 'force-dynamic';
export { handler as GET, handler as POST };

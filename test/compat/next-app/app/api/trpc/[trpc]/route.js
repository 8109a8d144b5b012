import { trpcHandler } from '../../../../lib/router.js';

const handler = trpcHandler('/api/trpc');

export const dynamic = 'force-dynamic';
export { handler as GET, handler as POST };

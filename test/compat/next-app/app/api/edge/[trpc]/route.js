import { trpcHandler } from '../../../../lib/router.js';

const handler = trpcHandler('/api/edge');

export const runtime = 'edge';
export const dynamic = 'force-dynamic';
export { handler as GET, handler as POST };

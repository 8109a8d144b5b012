/**
 * Runs once when the server starts: trpc-memory's cache is set up here, before the
 * first request. Redis when `REDIS_URL` is set (shared by every server process),
 * in memory otherwise; edge routes always use the memory backend.
 */
export async function register(): Promise<void> {
  const { initCache } = await import('@trpc-memory/server');
  const url = process.env.REDIS_URL;
  const prefix = process.env.EXAMPLE_CACHE_PREFIX ?? 'trpc-memory-nextjs';
  if (process.env.NEXT_RUNTIME === 'nodejs' && url !== undefined && url !== '') {
    await initCache({ backend: 'redis', url, prefix });
  } else {
    await initCache({ backend: 'memory', prefix });
  }
}

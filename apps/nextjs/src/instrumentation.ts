/**
 * Runs once when a server process starts: trpc-memory's cache is set up here, before
 * the first request, and every route and server component of the process uses it.
 * Redis when `REDIS_URL` is set (one cache shared by every server process), in
 * memory otherwise; edge routes always use the memory backend.
 */
export async function register(): Promise<void> {
  const { CacheManager, initCache } = await import('@trpc-memory/server');
  const prefix = process.env.EXAMPLE_CACHE_PREFIX ?? 'trpc-memory-nextjs';
  const url = process.env.REDIS_URL;
  if (process.env.NEXT_RUNTIME === 'nodejs' && url !== undefined && url !== '') {
    // Imported, not named to initCache(): the Redis entry is then part of the bundle.
    const { RedisBackend } = await import('@trpc-memory/server/redis');
    CacheManager.init(new RedisBackend(url), { prefix });
  } else {
    await initCache({ backend: 'memory', prefix });
  }
}

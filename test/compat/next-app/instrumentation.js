// The documented place for startup code: Next.js bundles it apart from the routes,
// so the cache set up here reaches them only through the library's global registry.
export async function register() {
  const { initCache } = await import('@trpc-memory/server');
  await initCache({ prefix: 'next-app', expire: 60 });
}

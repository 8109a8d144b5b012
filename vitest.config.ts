import { defineConfig } from 'vitest/config';

/**
 * One Vitest run for the whole repository. Workspace packages are resolved to
 * their TypeScript sources through the `@trpc-memory/source` export condition,
 * so no build step is needed before testing.
 */
const conditions = ['@trpc-memory/source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@trpc-memory/source'] } },
  test: {
    include: [
      'packages/*/test/**/*.test.{ts,tsx}',
      'test/**/*.test.{ts,tsx}',
      'apps/*/test/**/*.test.{ts,tsx}',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    typecheck: {
      enabled: true,
      include: ['packages/*/test/**/*.test-d.{ts,tsx}'],
      tsconfig: 'packages/client/tsconfig.json',
    },
  },
});

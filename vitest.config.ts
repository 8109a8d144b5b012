import { transform } from 'esbuild';
import { defineConfig, type Plugin } from 'vitest/config';

/**
 * One Vitest run for the whole repository. Workspace packages are resolved to
 * their TypeScript sources through the `@trpc-memory/source` export condition,
 * so no build step is needed before testing.
 */
const conditions = ['@trpc-memory/source', 'module', 'node', 'development|production'];

/**
 * Vite 8 transforms TypeScript with Oxc, which strips types but does not lower
 * standard (TC39) decorators (oxc-project/oxc#9170), and Node 20 cannot run them.
 * Files that use `@decorator` syntax go through esbuild first, which lowers them
 * (what Vite ≤ 7 did); every other file keeps the default Oxc path.
 */
const decoratorLine = /(?:^|[;{}])\s*@[A-Za-z_$]/m;
const lowerStandardDecorators: Plugin = {
  name: 'trpc-memory:lower-standard-decorators',
  enforce: 'pre',
  async transform(code, id) {
    const file = id.split('?')[0] ?? id;
    if (!/\.[cm]?tsx?$/.test(file) || file.includes('/node_modules/') || !decoratorLine.test(code)) return;
    const result = await transform(code, {
      loader: file.endsWith('x') ? 'tsx' : 'ts',
      target: 'node20',
      format: 'esm',
      sourcemap: true,
      sourcefile: file,
      tsconfigRaw: {
        compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: true, jsx: 'react-jsx' },
      },
    });
    return { code: result.code, map: result.map };
  },
};

export default defineConfig({
  plugins: [lowerStandardDecorators],
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
    // `*.test-d.ts` files: type assertions (expectTypeOf, @ts-expect-error) that tsc
    // checks as part of `vitest run`. Vitest only reports the errors tsc finds in the
    // project it is given, so that project must hold every such file of every package
    // (test/typecheck.test.ts checks it does).
    typecheck: {
      enabled: true,
      include: ['packages/*/test/**/*.test-d.{ts,tsx}'],
      tsconfig: 'tsconfig.test-d.json',
    },
  },
});

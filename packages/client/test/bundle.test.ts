/**
 * The built client must not carry server code into the browser: its only runtime
 * imports are the client-side peers, and `@trpc/server` appears in its types only.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsdown';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = mkdtempSync(join(tmpdir(), 'trpc-memory-client-build-'));
let js = '';
let dts = '';

/** Every module specifier a file imports or re-exports (static, bare or dynamic). */
function imports(code: string): string[] {
  const pattern = /(?:^|\n)\s*(?:import|export)\b[^'";]*?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;
  return [...code.matchAll(pattern)].map((match) => (match[1] ?? match[2]) as string);
}

beforeAll(async () => {
  await build({ cwd: packageDir, config: join(packageDir, 'tsdown.config.ts'), outDir, logLevel: 'silent' });
  const files = readdirSync(outDir);
  expect(files).toEqual(expect.arrayContaining(['index.mjs', 'index.d.mts']));
  js = readFileSync(join(outDir, 'index.mjs'), 'utf8');
  dts = readFileSync(join(outDir, 'index.d.mts'), 'utf8');
}, 120_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('the built @trpc-memory/client', () => {
  it('imports at runtime only @trpc/client and @tanstack/react-query', () => {
    const runtime = new Set(imports(js));
    expect([...runtime].sort()).toEqual(['@tanstack/react-query', '@trpc/client']);
    expect(js).not.toMatch(/require\(/);
  });

  it('names @trpc/server in its declarations only (a type-level peer), and never the server package', () => {
    expect(imports(dts)).toContain('@trpc/server');
    expect(imports(dts).filter((specifier) => specifier.startsWith('@trpc-memory/'))).toEqual([]);
  });

  it('has no `any` in its public types', () => {
    const withoutComments = dts.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    expect(withoutComments).not.toMatch(/\bany\b/);
  });
});

/**
 * The published type declarations show users only what they call: no member
 * marked `@internal`, no `any`, and none of the names of the cache's and the
 * hint registry's internals. Read from the packed tarballs, following every
 * declaration file the packages' `exports` reach.
 */

import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheRoot, type PackageName, packedPackages, unpack } from './pack.js';

const root = join(cacheRoot, 'published-types', randomUUID());

/** Names of internal members that must never appear as a member in published types. */
const INTERNAL_NAMES = [
  // Cache internals (cache-internals.ts)
  'read',
  'readStored',
  'decodeStored',
  'write',
  'store',
  'report',
  'StoredEntry',
  'CacheCore',
  'checkCacheOptions',
  // CacheHints internals (the registry behind it)
  'record',
  'lookup',
  'onMutation',
  'mutated',
  'HintRegistry',
  // the tags cachePolicy reads from middlewares
  'MEMORIZE_TAG',
  'INVALIDATES_TAG',
  'MemorizeTag',
  'InvalidatesTag',
];

/** The internal names `declarations` (comments removed) declares, as a member or a declaration. */
function internalNamesIn(declarations: string): string[] {
  return INTERNAL_NAMES.filter((member) =>
    // `read(`, `read:`, `read?:`, `[MEMORIZE_TAG]`, `interface StoredEntry`, …
    new RegExp(
      `(^|[\\s;{,\\[])${member}\\s*(\\??:|\\(|<|\\]|\\s*\\{|\\s*=)|\\b(interface|type|class|const|function)\\s+${member}\\b`,
      'm',
    ).test(declarations),
  );
}

/** Every `types` file the `exports` map names, whatever the conditions. */
function typesOf(exports: unknown): string[] {
  if (typeof exports === 'string')
    return exports.endsWith('.d.mts') || exports.endsWith('.d.ts') ? [exports] : [];
  if (exports === null || typeof exports !== 'object') return [];
  return Object.entries(exports).flatMap(([condition, target]) =>
    condition === 'types' && typeof target === 'string' ? [target] : typesOf(target),
  );
}

/** The declaration files reachable from `entries` through relative imports, with their text. */
async function reachable(dir: string, entries: string[]): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  const queue = entries.map((entry) => resolve(dir, entry));
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (seen.has(file)) continue;
    const text = await readFile(file, 'utf8');
    seen.set(file, text);
    for (const match of code(text).matchAll(/\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
      // Declarations import each other by the JavaScript file's name.
      queue.push(
        resolve(dirname(file), (match[1] as string).replace(/\.mjs$/, '.d.mts').replace(/\.js$/, '.d.ts')),
      );
    }
  }
  return seen;
}

/** The declarations without their comments (JSDoc prose may say "any" or "read"). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');
}

const published = new Map<PackageName, Map<string, string>>();

beforeAll(async () => {
  const tarballs = await packedPackages();
  for (const name of ['server', 'client'] as const) {
    const dir = join(root, name);
    await unpack(tarballs[name], dir);
    const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { exports: unknown };
    published.set(name, await reachable(dir, typesOf(manifest.exports)));
  }
}, 240_000);

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe.each(['server', 'client'] as const)('published types of @trpc-memory/%s', (name) => {
  const files = () => [...(published.get(name) ?? new Map<string, string>()).entries()];

  it('are found from the exports map', () => {
    expect(files().length).toBeGreaterThan(0);
    expect(files().some(([file]) => file.endsWith('index.d.mts'))).toBe(true);
  });

  it('mark nothing @internal', () => {
    for (const [file, text] of files()) {
      expect({ file, internal: text.includes('@internal') }).toEqual({ file, internal: false });
    }
  });

  it('have no any', () => {
    for (const [file, text] of files()) {
      const anys = code(text).match(/\bany\b/g) ?? [];
      expect({ file, anys: anys.length }).toEqual({ file, anys: 0 });
    }
  });

  it('name no internal member', () => {
    for (const [file, text] of files()) {
      const found = internalNamesIn(code(text));
      expect({ file, found }).toEqual({ file, found: [] });
    }
  });
});

describe('the internal-name check', () => {
  it('catches a method, a property, a symbol member and a declaration', () => {
    const probe = (text: string) => internalNamesIn(code(text));
    expect(probe('declare class Cache {\n  readStored(key: string): void;\n}')).toEqual(['readStored']);
    expect(probe('interface X {\n  report?: () => void;\n}')).toEqual(['report']);
    expect(probe('interface M {\n  readonly [MEMORIZE_TAG]: unknown;\n}')).toEqual(['MEMORIZE_TAG']);
    expect(probe('interface StoredEntry {}')).toEqual(['StoredEntry']);
    expect(
      probe('/** read(key) is what a store does */\ninterface Fine {\n  get(key: string): void;\n}'),
    ).toEqual([]);
  });
});

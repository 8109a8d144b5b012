import { defineConfig } from 'tsdown';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    redis: 'src/redis.ts',
    'test-suite': 'src/test-suite.ts',
    // The two transports package.json's "#http-pool" import chooses between by
    // export condition: the main entry imports neither, so a bundle for an edge
    // runtime never sees undici or node:* modules.
    'http/pool-undici': 'src/http/pool-undici.ts',
    'http/pool-fetch': 'src/http/pool-fetch.ts',
    // Likewise "#key-hash": node:crypto's SHA-256 on Node, a plain-JavaScript one elsewhere.
    'cache/key-hash-node': 'src/cache/key-hash-node.ts',
    'cache/key-hash': 'src/cache/key-hash.ts',
  },
  format: ['esm'],
  dts: true,
  clean: true,
  // .mjs / .d.mts, as package.json "exports" names them.
  fixedExtension: true,
  // Runs on Node and on edge/worker runtimes: no Node shims in the output.
  platform: 'neutral',
  target: 'es2022',
  deps: { neverBundle: [/^#/, /^node:/] },
});

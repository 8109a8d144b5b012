import { defineConfig } from 'tsdown';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  clean: true,
  // .mjs / .d.mts, as package.json "exports" names them.
  fixedExtension: true,
  platform: 'neutral',
  target: 'node20',
});

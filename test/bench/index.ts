/**
 * `npm run bench`: runs every benchmark suite in this folder (files named
 * `*.bench.ts`, each exporting a default async function) and prints their ratios.
 * Pass suite names to run only those: `npm run bench -- cache http`.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const suites = readdirSync(here)
  .filter((file) => file.endsWith('.bench.ts'))
  .sort()
  .filter((file) => wanted.length === 0 || wanted.includes(basename(file, '.bench.ts')));

for (const file of suites) {
  console.log(`\n== ${basename(file, '.bench.ts')} ==`);
  const suite = (await import(join(here, file))) as { default: () => Promise<void> };
  await suite.default();
}
process.exit(0);

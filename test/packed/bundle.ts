/**
 * Bundles code that imports the published packages the way a bundler for a given
 * runtime would (its export conditions), and records every module that runtime
 * could not load: Node built-ins, undici, ioredis.
 */
import { relative } from 'node:path';
import { build, type Plugin } from 'esbuild';

/** The export conditions each runtime's bundler resolves with, beyond `import`/`default`. */
export const RUNTIME_CONDITIONS = {
  /** Next.js `runtime = 'edge'` routes and middleware (Vercel Edge). */
  'edge-light': ['edge-light', 'worker', 'browser', 'module'],
  /** Cloudflare Workers (wrangler). */
  workerd: ['workerd', 'worker', 'browser', 'module'],
  /** Node (a server bundle, or plain `import`). */
  node: ['node', 'module'],
} as const;

export type Runtime = keyof typeof RUNTIME_CONDITIONS;

/** Modules no edge or worker runtime provides. */
const NODE_ONLY = /^(node:.*|undici(\/.*)?|ioredis(\/.*)?)$/;
const NODE_BUILTIN =
  /^(assert|async_hooks|buffer|child_process|crypto|dgram|dns|events|fs|http|http2|https|net|os|path|perf_hooks|process|stream|string_decoder|timers|tls|tty|url|util|v8|vm|worker_threads|zlib)(\/.*)?$/;

export interface Bundle {
  /** The bundled code (an IIFE for `iife`, else an ES module). */
  code: string;
  /** Files that went into the bundle, relative to `root`. */
  inputs: string[];
  /** Node-only modules imported, as `module ← importer`. They are left out of `code`. */
  nodeOnly: string[];
}

function recordNodeOnly(root: string, found: string[]): Plugin {
  return {
    name: 'record-node-only',
    setup(builder) {
      builder.onResolve({ filter: /.*/ }, (args) => {
        if (!NODE_ONLY.test(args.path) && !NODE_BUILTIN.test(args.path)) return undefined;
        found.push(`${args.path} ← ${relative(root, args.importer)}`);
        return { path: args.path, external: true };
      });
    },
  };
}

/** Bundles `entry` (a file under `root`, whose node_modules hold the packages) for `runtime`. */
export async function bundleFor(
  entry: string,
  runtime: Runtime,
  options: { root: string; format?: 'esm' | 'iife' },
): Promise<Bundle> {
  const nodeOnly: string[] = [];
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    metafile: true,
    format: options.format ?? 'esm',
    platform: 'neutral',
    mainFields: runtime === 'node' ? ['module', 'main'] : ['browser', 'module', 'main'],
    conditions: [...RUNTIME_CONDITIONS[runtime]],
    target: 'es2022',
    logLevel: 'silent',
    plugins: [recordNodeOnly(options.root, nodeOnly)],
  });
  const [output] = result.outputFiles;
  return {
    code: output?.text ?? '',
    inputs: Object.keys(result.metafile.inputs).map((input) => relative(options.root, input)),
    nodeOnly: [...new Set(nodeOnly)].sort(),
  };
}

/**
 * `npm run demo`: builds the page, starts the demo on localhost and prints its
 * URL. Ctrl-C (SIGINT) or SIGTERM stops everything and exits.
 */
import { readConfig } from './config.js';
import { type Demo, startDemo } from './server.js';

async function buildPage(outDir: string): Promise<void> {
  const { build } = await import('vite');
  await build({
    configFile: new URL('../vite.config.ts', import.meta.url).pathname,
    logLevel: 'warn',
    build: { outDir },
  });
}

async function main(): Promise<void> {
  const config = readConfig();
  if (config.buildPage) {
    const started = Date.now();
    process.stdout.write('Building the demo page… ');
    await buildPage(config.staticDir);
    process.stdout.write(`done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }

  const demo: Demo = await startDemo(config);
  const backend = config.redisUrl
    ? `Redis (${new URL(config.redisUrl).host}, prefix "${config.cachePrefix}")`
    : 'in-memory';
  console.log(
    [
      '',
      `  trpc-memory demo running at ${demo.url}`,
      '',
      `  cache backend   ${backend}`,
      `  upstream        ${demo.upstream.url} (${config.upstreamLatency * 1000} ms latency, ${Math.round(config.upstreamFailureRate * 100)}% 503s)`,
      `  tRPC endpoint   ${demo.trpcUrl}`,
      '',
      '  Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      // A second Ctrl-C while shutting down: leave at once.
      process.exit(130);
    }
    stopping = true;
    console.log(`\n${signal}: stopping the demo…`);
    const timer = setTimeout(() => {
      console.error('Shutdown took too long; exiting.');
      process.exit(1);
    }, 5000);
    timer.unref();
    demo.close().then(
      () => {
        console.log('Stopped.');
        process.exit(0);
      },
      (error: unknown) => {
        console.error('Error while stopping:', error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});

/**
 * Runs app instances of `flight-app.ts` as child processes, each a tRPC HTTP server
 * on its own port 0, all on one Redis (or Cluster), and calls them over HTTP.
 */
import { type ChildProcess, spawn } from 'node:child_process';

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const APP = fileURLToPath(new URL('./flight-app.ts', import.meta.url));
const CWD = fileURLToPath(new URL('..', import.meta.url));

export interface Instance {
  readonly url: string;
  readonly process: ChildProcess;
  /** Inputs whose resolver started in this instance, in order. */
  readonly resolving: string[];
  /** Resolves when a resolver starts in this instance. */
  nextResolving(): Promise<void>;
  kill(): Promise<void>;
}

export interface Fleet {
  readonly instances: Instance[];
  /** Resolver runs across all instances (one line each in the shared runs file). */
  runs(): number;
  stop(): Promise<void>;
}

/** Starts `count` instances with `env` (see flight-app.ts for the settings). */
export async function startFleet(count: number, env: Record<string, string>): Promise<Fleet> {
  const dir = mkdtempSync(join(tmpdir(), 'trpc-memory-flight-'));
  const runsFile = join(dir, 'runs');
  const instances: Instance[] = [];
  try {
    for (let i = 0; i < count; i++)
      instances.push(await startInstance({ ...env, FLIGHT_RUNS_FILE: runsFile }));
  } catch (error) {
    await Promise.all(instances.map((instance) => instance.kill()));
    throw error;
  }
  return {
    instances,
    runs() {
      try {
        return readFileSync(runsFile, 'utf8').split('\n').filter(Boolean).length;
      } catch {
        return 0;
      }
    },
    async stop() {
      await Promise.all(instances.map((instance) => instance.kill()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startInstance(env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ['--conditions=@trpc-memory/source', '--import', 'tsx', APP], {
    cwd: CWD,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const resolving: string[] = [];
  let onResolving: (() => void)[] = [];
  const lines = createInterface({ input: child.stdout! });
  const started = new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the app exited (${code}) before listening`)));
    lines.on('line', (line) => {
      let message: { url?: string; resolving?: string };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        return;
      }
      if (message.url !== undefined) resolve(message.url);
      if (message.resolving !== undefined) {
        resolving.push(message.resolving);
        const waiting = onResolving;
        onResolving = [];
        for (const wake of waiting) wake();
      }
    });
  });
  const url = await started;
  return {
    url,
    process: child,
    resolving,
    nextResolving: () => new Promise<void>((resolve) => onResolving.push(resolve)),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

export type CallResult =
  | { ok: true; data: { id: string; by: number } }
  | { ok: false; status: number | string };

/** Calls `cold` with `{ id }` on `instance` over HTTP (a GET, as httpLink sends it). */
export async function callCold(instance: Pick<Instance, 'url'>, id: string): Promise<CallResult> {
  try {
    const response = await fetch(`${instance.url}/cold?input=${encodeURIComponent(JSON.stringify({ id }))}`);
    const body = (await response.json()) as { result?: { data: { id: string; by: number } } };
    if (!response.ok || body.result === undefined) return { ok: false, status: response.status };
    return { ok: true, data: body.result.data };
  } catch (error) {
    return { ok: false, status: (error as Error).message };
  }
}

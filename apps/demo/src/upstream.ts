/**
 * The demo's upstream: a small product-catalog HTTP service that is slow and
 * flaky on purpose, so the page can show what caching and retries buy. It runs
 * as its own HTTP server on 127.0.0.1 (its own port), reached by the tRPC server
 * over real HTTP through `ResilientClient`, exactly like a third-party API would be.
 *
 * Knobs (all changeable while running): `latency` in seconds, `failureRate`
 * (share of GET requests answered with 503), `failNext(n)` (the next n GETs
 * fail, for deterministic tests), and `setDown(true)` which closes the listening
 * socket so connections are refused, like a crashed service.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A product as the upstream serves it. */
export interface Product {
  id: string;
  name: string;
  /** Price in cents. */
  price: number;
  stock: number;
  /** ISO timestamp of the last change (restock). */
  updatedAt: string;
}

/** One request the upstream saw (the page's timeline and the tests read these). */
export interface UpstreamRequest {
  /** Epoch ms when the request arrived. */
  at: number;
  method: string;
  /** Path without the query string. */
  path: string;
  status: number;
}

/** Counters of what the upstream served since the last reset. */
export interface UpstreamStats {
  /** HTTP requests received (every attempt, including the ones answered with 503). */
  requests: number;
  /** Requests answered with 503 on purpose. */
  failures: number;
  /** Requests per route: `'GET /products'`, `'GET /products/:id'`, `'POST /products/:id/restock'`. */
  byRoute: Record<string, number>;
}

export interface UpstreamOptions {
  /** Port to listen on; `0` (default) picks a free one. */
  port?: number;
  /** Delay before every answer, in seconds. Default 0.3. */
  latency?: number;
  /** Share of GET requests answered with 503, 0..1. Default 0. */
  failureRate?: number;
}

/** The knobs of a running upstream, as the control procedures report them. */
export interface UpstreamSettings {
  latency: number;
  failureRate: number;
  down: boolean;
  failNext: number;
}

const CATALOG: ReadonlyArray<Omit<Product, 'updatedAt'>> = [
  { id: 'espresso', name: 'Espresso beans, 1 kg', price: 2490, stock: 12 },
  { id: 'grinder', name: 'Burr grinder', price: 13900, stock: 4 },
  { id: 'kettle', name: 'Gooseneck kettle', price: 6450, stock: 7 },
  { id: 'scale', name: 'Brew scale', price: 3990, stock: 0 },
  { id: 'filters', name: 'Paper filters ×100', price: 690, stock: 58 },
];

const LOG_SIZE = 200;

/** Checks a failure rate given by a user (env, control endpoint). */
export function assertFailureRate(value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new RangeError(`failureRate must be a number from 0 to 1, got ${String(value)}`);
  }
}

/** Checks a latency in seconds given by a user. */
export function assertLatency(value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 30) {
    throw new RangeError(`latency must be a number of seconds from 0 to 30, got ${String(value)}`);
  }
}

/**
 * A running upstream service. Create it with {@link startUpstream}.
 */
export class Upstream {
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  readonly #products = new Map<string, Product>();
  #port: number;
  #latency: number;
  #failureRate: number;
  #failNext = 0;
  #down = false;
  #stats: UpstreamStats = { requests: 0, failures: 0, byRoute: {} };
  #log: UpstreamRequest[] = [];
  #random: () => number;

  constructor(options: UpstreamOptions = {}, random: () => number = Math.random) {
    const { port = 0, latency = 0.3, failureRate = 0 } = options;
    assertLatency(latency);
    assertFailureRate(failureRate);
    this.#port = port;
    this.#latency = latency;
    this.#failureRate = failureRate;
    this.#random = random;
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) send(res, 500, { error: String(error) });
      });
    });
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    this.#resetProducts();
  }

  /** `http://127.0.0.1:<port>`; valid once started. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get settings(): UpstreamSettings {
    return {
      latency: this.#latency,
      failureRate: this.#failureRate,
      down: this.#down,
      failNext: this.#failNext,
    };
  }

  get stats(): UpstreamStats {
    return { ...this.#stats, byRoute: { ...this.#stats.byRoute } };
  }

  /** The last requests, oldest first (at most 200). */
  get log(): readonly UpstreamRequest[] {
    return this.#log;
  }

  async listen(): Promise<void> {
    this.#server.listen(this.#port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  setLatency(seconds: number): void {
    assertLatency(seconds);
    this.#latency = seconds;
  }

  setFailureRate(rate: number): void {
    assertFailureRate(rate);
    this.#failureRate = rate;
  }

  /** The next `count` GET requests are answered with 503, whatever the failure rate. */
  failNext(count: number): void {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`failNext must be a non-negative integer, got ${String(count)}`);
    }
    this.#failNext = count;
  }

  /**
   * `true` closes the listening socket and drops open connections, so callers get
   * "connection refused"; `false` listens again on the same port.
   */
  async setDown(down: boolean): Promise<void> {
    if (down === this.#down) return;
    this.#down = down;
    if (down) {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const socket of this.#sockets) socket.destroy();
      await closed;
    } else {
      await this.listen();
    }
  }

  /** Zeroes the counters, forgets the log and restores the catalog's stock. */
  reset(): void {
    this.#stats = { requests: 0, failures: 0, byRoute: {} };
    this.#log = [];
    this.#resetProducts();
  }

  async close(): Promise<void> {
    if (!this.#server.listening) return;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #resetProducts(): void {
    const now = new Date().toISOString();
    this.#products.clear();
    for (const product of CATALOG) this.#products.set(product.id, { ...product, updatedAt: now });
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const method = req.method ?? 'GET';
    const route = routeOf(method, url.pathname);
    const entry: UpstreamRequest = {
      at: Date.now(),
      method,
      path: url.pathname,
      status: 0,
    };
    this.#stats.requests++;
    this.#stats.byRoute[route] = (this.#stats.byRoute[route] ?? 0) + 1;
    this.#log.push(entry);
    if (this.#log.length > LOG_SIZE) this.#log.shift();

    const body = method === 'POST' ? await readBody(req) : undefined;
    await sleep(this.#latency);

    const fail =
      method === 'GET' &&
      (this.#failNext > 0 || (this.#failureRate > 0 && this.#random() < this.#failureRate));
    if (fail) {
      if (this.#failNext > 0) this.#failNext--;
      this.#stats.failures++;
      entry.status = 503;
      send(res, 503, { error: 'Service temporarily unavailable (simulated)' });
      return;
    }

    const [status, payload] = this.#route(method, url.pathname, body);
    entry.status = status;
    send(res, status, payload);
  }

  #route(method: string, path: string, body: unknown): [number, unknown] {
    const now = new Date().toISOString();
    if (method === 'GET' && path === '/products') {
      return [200, { products: [...this.#products.values()], generatedAt: now }];
    }
    const item = /^\/products\/([\w-]+)$/.exec(path);
    if (method === 'GET' && item) {
      const product = this.#products.get(item[1]!);
      return product ? [200, { product, generatedAt: now }] : [404, { error: `No product "${item[1]}"` }];
    }
    const restock = /^\/products\/([\w-]+)\/restock$/.exec(path);
    if (method === 'POST' && restock) {
      const product = this.#products.get(restock[1]!);
      if (!product) return [404, { error: `No product "${restock[1]}"` }];
      const amount = (body as { amount?: unknown } | undefined)?.amount;
      if (typeof amount !== 'number' || !Number.isInteger(amount) || amount < 1) {
        return [400, { error: 'amount must be a positive integer' }];
      }
      const updated = { ...product, stock: product.stock + amount, updatedAt: now };
      this.#products.set(updated.id, updated);
      return [200, { product: updated, generatedAt: now }];
    }
    return [404, { error: `No route ${method} ${path}` }];
  }
}

function routeOf(method: string, path: string): string {
  if (/^\/products\/[\w-]+\/restock$/.test(path)) return `${method} /products/:id/restock`;
  if (/^\/products\/[\w-]+$/.test(path)) return `${method} /products/:id`;
  return `${method} ${path}`;
}

function sleep(seconds: number): Promise<void> {
  return seconds > 0 ? new Promise((resolve) => setTimeout(resolve, seconds * 1000)) : Promise.resolve();
}

async function readBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function send(res: http.ServerResponse, status: number, payload: unknown): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

/**
 * Starts an upstream on 127.0.0.1.
 *
 * @example
 * ```ts
 * const upstream = await startUpstream({ latency: 0.3, failureRate: 0.2 });
 * await fetch(`${upstream.url}/products`);
 * await upstream.close();
 * ```
 */
export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const upstream = new Upstream(options);
  await upstream.listen();
  return upstream;
}

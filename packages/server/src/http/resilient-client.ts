import { TRPCError } from '@trpc/server';
import ky, { type KyInstance, type Options as KyOptions } from 'ky';
import { transport } from '#http-pool';
import { InvalidOptionError, ResilientClientClosedError } from '../errors.js';
import { type DefaultRetryOptions, defaultRetryPolicy } from '../resilience/default-retry.js';
import { type RetryPolicy, runWithRetry } from '../resilience/retry.js';
import { assertSeconds } from '../seconds.js';
import type { ConnectionPool } from './pool.js';
import { assertSchema, type InferSchemaOutput, type StandardSchema, validateWithSchema } from './schema.js';
import { toTRPCError } from './upstream-error.js';

/**
 * Options of {@link ResilientClient}. Durations in seconds.
 *
 * @example
 * ```ts
 * new ResilientClient({ baseUrl: 'https://api.internal', timeout: 5, retryAttempts: 4, headers: { authorization: `Bearer ${token}` } });
 * ```
 */
export interface ResilientClientOptions {
  /**
   * Prepended to every path with exactly one `/` between them; a path that is
   * an absolute `http(s)://` URL is used as is. A relative path may not climb
   * out of the base URL's path with `..` segments (`InvalidOptionError`, before
   * any request). Default `''` (paths must then be absolute).
   *
   * @default ''
   */
  baseUrl?: string;
  /**
   * Seconds each attempt may wait for the response headers (time queued for a
   * pooled connection included), and the longest silence allowed while the
   * body streams. Default `30`. On edge and worker runtimes (the platform
   * `fetch`) it bounds the whole attempt, body included.
   *
   * @default 30
   */
  timeout?: number;
  /**
   * Verify TLS certificates; `false` accepts self-signed ones (internal endpoints
   * only, and on Node only: the platform `fetch` of edge and worker runtimes
   * always verifies, so `false` is an `InvalidOptionError` there). Default `true`.
   *
   * @default true
   */
  verify?: boolean;
  /**
   * Most connections open at once to one origin; further requests queue.
   * Default `20`. On edge and worker runtimes the platform `fetch` manages its
   * connections itself and this option (like the two keep-alive ones) has no effect.
   *
   * @default 20
   */
  maxConnections?: number;
  /**
   * Idle connections worth keeping alive. `0` closes every connection after its
   * response. undici, unlike httpx, cannot cap idle connections by count: with
   * any other value idle connections are kept for `keepAliveTimeout` seconds
   * (and never more than `maxConnections`). Default `10`.
   *
   * @default 10
   */
  maxKeepaliveConnections?: number;
  /**
   * Seconds an idle keep-alive connection stays open (httpx's `keepalive_expiry`). Default `5`.
   *
   * @default 5
   */
  keepAliveTimeout?: number;
  /**
   * Calls in total per request, the first included. Default `3`.
   *
   * @default 3
   */
  retryAttempts?: number;
  /**
   * Shortest wait between attempts, in seconds. Default `2`.
   *
   * @default 2
   */
  retryWaitMin?: number;
  /**
   * Longest wait between attempts, in seconds (also caps `Retry-After`). Default `10`.
   *
   * @default 10
   */
  retryWaitMax?: number;
  /**
   * Full jitter on the backoff waits. Default `false`.
   *
   * @default false
   */
  retryJitter?: boolean;
  /**
   * Honour `Retry-After` on 429 and 503 responses, capped by `retryWaitMax` (see `defaultRetry`). Default `false`.
   *
   * @default false
   */
  respectRetryAfter?: boolean;
  /** Called before every retry sleep, e.g. to log or count retries. */
  beforeRetry?: DefaultRetryOptions['beforeSleep'];
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

/**
 * A query parameter value; arrays repeat the parameter, `undefined` and `null` omit it.
 *
 * @example
 * ```ts
 * await upstream.getRaw('search', { q: 'tea', page: 2, draft: false, cursor: undefined }); // ?q=tea&page=2&draft=false
 * ```
 */
export type QueryValue = string | number | boolean | bigint | null | undefined;

/**
 * Query parameters of a request.
 *
 * @example
 * ```ts
 * await upstream.getRaw('items', { tag: ['a', 'b'] }); // ?tag=a&tag=b
 * await upstream.getRaw('items', new URLSearchParams('tag=a&tag=b'));
 * ```
 */
export type QueryParams = URLSearchParams | Record<string, QueryValue | readonly QueryValue[]>;

/**
 * Per-request options of {@link ResilientClient.getRaw}.
 *
 * @example
 * ```ts
 * t.procedure.query(({ signal }) => upstream.getRaw('report', undefined, { signal, headers: { 'x-trace': id } }));
 * ```
 */
export interface RequestOptions {
  /**
   * Cancels the request and any retry still to come: pass the `signal` of the
   * tRPC resolver so a cancelled call stops hitting the upstream.
   */
  signal?: AbortSignal | undefined;
  /** Extra headers for this request. */
  headers?: Record<string, string>;
}

/**
 * Per-request options of {@link ResilientClient.getJson}.
 *
 * @example
 * ```ts
 * const post = await upstream.getJson('posts/1', undefined, { schema: z.object({ id: z.string() }), signal });
 * ```
 */
export interface GetJsonOptions<S extends StandardSchema | undefined = undefined> extends RequestOptions {
  /** Validates (and types) the body; a mismatch is a `BAD_GATEWAY` naming the failing fields. */
  schema?: S;
}

/** `defaultRetry`'s option names as this constructor spells them. */
const RETRY_OPTION_NAMES: Readonly<Record<string, string>> = {
  attempts: 'retryAttempts',
  waitMin: 'retryWaitMin',
  waitMax: 'retryWaitMax',
  jitter: 'retryJitter',
  beforeSleep: 'beforeRetry',
};

const MAX_TIMER_SECONDS = (2 ** 31 - 1) / 1000;

/** A valid `baseUrl` without trailing slashes, and its path with one (`'/'` for none). */
function parseBaseUrl(baseUrl: unknown): { base: string; path: string } {
  const invalid = () =>
    new InvalidOptionError(
      'new ResilientClient()',
      'baseUrl',
      baseUrl,
      "an http:// or https:// URL (or '' to pass absolute URLs to each call)",
    );
  if (baseUrl === '') return { base: '', path: '/' };
  if (typeof baseUrl !== 'string' || !/^https?:\/\/[^/]/i.test(baseUrl)) throw invalid();
  const base = baseUrl.replace(/\/+$/, '');
  try {
    return { base, path: new URL(`${base}/`).pathname };
  } catch {
    throw invalid();
  }
}

function positiveSeconds(option: string, value: unknown, allowZero = false): number {
  assertSeconds('new ResilientClient()', option, value, { allowZero, max: MAX_TIMER_SECONDS });
  return value;
}

function count(option: string, value: unknown, min: number): number {
  if (!Number.isInteger(value) || (value as number) < min) {
    throw new InvalidOptionError('new ResilientClient()', option, value, `a whole number ≥ ${min}`);
  }
  return value as number;
}

function flag(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new InvalidOptionError('new ResilientClient()', option, value, 'true or false');
  return value;
}

function tlsVerification(value: unknown): boolean {
  const verify = flag('verify', value);
  if (!verify && !transport.controlsConnections) {
    throw new InvalidOptionError(
      'new ResilientClient()',
      'verify',
      value,
      `true on this runtime (its ${transport.name} transport always verifies TLS certificates; verify: false needs Node)`,
    );
  }
  return verify;
}

/**
 * A persistent, pooled, retrying upstream HTTP client for resolvers
 * (fastapi-memory's `FmResilientClient`), built on ky with an undici `Agent`
 * for pooling and TLS. Each GET is retried with `defaultRetry` (network
 * errors, timeouts and 5xx; never 4xx) using the client's retry options; ky's
 * own retry is off so that retrying happens in one layer only. Under ky, the
 * requests go through the Agent's dispatch API rather than fetch: the same
 * pool, redirects and gzip/deflate/br decoding, for a fraction of fetch's CPU
 * cost per request. On edge and worker runtimes (Vercel Edge, Cloudflare
 * Workers, Deno, Bun) it runs on the platform's `fetch` instead, chosen by the
 * package's export conditions, with the same retries, errors and timeouts.
 *
 * @example
 * ```ts
 * export const upstream = new ResilientClient({ baseUrl: 'http://api.internal:8080', timeout: 30 });
 * await upstream.start(); // once at startup (opens the pool)
 *
 * const byId = t.procedure
 *   .input(z.object({ id: z.string() }))
 *   .use(memorize({ expire: 60 }))
 *   .query(({ input, signal }) => upstream.getJson(`posts/${input.id}`, undefined, { schema: Post, signal }));
 *
 * await upstream.close(); // once at shutdown
 * { await using client = new ResilientClient({ baseUrl }); await client.getRaw('health'); } // closed at scope end
 * ```
 */
export class ResilientClient {
  /** The base URL every relative path is joined to. */
  readonly baseUrl: string;
  readonly #options: Required<
    Pick<
      ResilientClientOptions,
      'timeout' | 'verify' | 'maxConnections' | 'maxKeepaliveConnections' | 'keepAliveTimeout'
    >
  >;
  readonly #headers: Record<string, string> | undefined;
  /** `baseUrl` without trailing slashes, and its path with one. */
  readonly #base: string;
  readonly #basePath: string;
  readonly #retry: RetryPolicy;
  /** `#retry` plus the signal `close()` aborts, so that no retry sleeps past shutdown. */
  #policy: RetryPolicy;
  #closing: AbortController | undefined;
  #pool: ConnectionPool | undefined;
  #ky: KyInstance | undefined;
  #closed = false;

  constructor(options: ResilientClientOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidOptionError(
        'new ResilientClient()',
        'options',
        options,
        'an options object (or omitted)',
      );
    }
    const {
      baseUrl = '',
      timeout = 30,
      verify = true,
      maxConnections = 20,
      maxKeepaliveConnections = 10,
      keepAliveTimeout = 5,
      retryAttempts,
      retryWaitMin,
      retryWaitMax,
      retryJitter,
      respectRetryAfter,
      beforeRetry,
      headers,
    } = options;
    ({ base: this.#base, path: this.#basePath } = parseBaseUrl(baseUrl));
    this.baseUrl = baseUrl as string;
    this.#options = {
      timeout: positiveSeconds('timeout', timeout),
      verify: tlsVerification(verify),
      maxConnections: count('maxConnections', maxConnections, 1),
      maxKeepaliveConnections: count('maxKeepaliveConnections', maxKeepaliveConnections, 0),
      keepAliveTimeout: positiveSeconds('keepAliveTimeout', keepAliveTimeout),
    };
    this.#headers = headers;
    // Omitted retry options stay omitted: defaultRetry fills them in from RETRY_DEFAULTS.
    const retryOptions: DefaultRetryOptions = {};
    if (retryAttempts !== undefined) retryOptions.attempts = retryAttempts;
    if (retryWaitMin !== undefined) retryOptions.waitMin = retryWaitMin;
    if (retryWaitMax !== undefined) retryOptions.waitMax = retryWaitMax;
    if (retryJitter !== undefined) retryOptions.jitter = retryJitter;
    if (respectRetryAfter !== undefined) retryOptions.respectRetryAfter = respectRetryAfter;
    if (beforeRetry !== undefined) retryOptions.beforeSleep = beforeRetry;
    this.#retry = defaultRetryPolicy('new ResilientClient()', retryOptions, RETRY_OPTION_NAMES);
    this.#policy = this.#retry;
  }

  /** Whether the pool is open (after `start()` or the first request, until `close()`). */
  get started(): boolean {
    return this.#pool !== undefined;
  }

  /**
   * Opens the connection pool. Call it once at startup; a request made before
   * starts the client itself. Calling it again is harmless, and it reopens a
   * closed client.
   */
  async start(): Promise<void> {
    this.#open();
  }

  /**
   * Closes the pool once in-flight requests finish. A request waiting to retry
   * and requests made afterwards fail with a {@link ResilientClientClosedError}.
   * Safe to call twice.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#closing?.abort(new ResilientClientClosedError(this.baseUrl));
    this.#closing = undefined;
    const pool = this.#pool;
    this.#pool = undefined;
    this.#ky = undefined;
    if (pool !== undefined) await pool.close();
  }

  /** `await using client = new ResilientClient(…)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * GET `path` with retries; returns the parsed JSON body, or the text when the
   * body is not JSON (`''` when empty). After the last attempt it throws the
   * underlying error: ky's `HTTPError` (with `response`, whose body can still
   * be read: it was read off the connection already), `TimeoutError`, or
   * fetch's `TypeError` for network failures (undici's error as `cause`).
   *
   * @example
   * ```ts
   * const page = await upstream.getRaw('items', { page: 2, tag: ['a', 'b'] }); // GET /items?page=2&tag=a&tag=b
   * ```
   */
  async getRaw(path: string, params?: QueryParams, options: RequestOptions = {}): Promise<unknown> {
    return this.#get(this.#url(path, params), options);
  }

  /**
   * Like {@link getRaw}, but a final failure is a `TRPCError` whose `cause` is
   * the original error: an upstream status maps to the tRPC code of that status
   * (404 → `NOT_FOUND`, 429 → `TOO_MANY_REQUESTS`, 503 → `SERVICE_UNAVAILABLE`,
   * other 5xx → `BAD_GATEWAY`), a network error to `BAD_GATEWAY`, a timeout to
   * `GATEWAY_TIMEOUT`. With `schema` (zod or any Standard Schema) the body is
   * validated and typed; a mismatch is a `BAD_GATEWAY` naming the failing fields.
   *
   * @example
   * ```ts
   * const Post = z.object({ id: z.string(), title: z.string() });
   * const post = await upstream.getJson(`posts/${id}`, undefined, { schema: Post, signal }); // typed
   * const raw = await upstream.getJson<{ total: number }>('stats'); // unchecked
   * ```
   */
  getJson<S extends StandardSchema>(
    path: string,
    params: QueryParams | undefined,
    options: GetJsonOptions<S> & { schema: S },
  ): Promise<InferSchemaOutput<S>>;
  getJson<T = unknown>(path: string, params?: QueryParams, options?: GetJsonOptions): Promise<T>;
  async getJson(
    path: string,
    params?: QueryParams,
    options: GetJsonOptions<StandardSchema | undefined> = {},
  ): Promise<unknown> {
    assertSchema('getJson()', options.schema);
    let target: URL | undefined;
    // Names the request in messages by its path only: query strings may carry secrets.
    const what = () => `GET ${target?.pathname ?? path}`;
    try {
      target = this.#url(path, params);
      const body = await this.#get(target, options);
      return options.schema === undefined
        ? body
        : await validateWithSchema(options.schema, body, `Upstream ${what()}`);
    } catch (error) {
      if (error instanceof ResilientClientClosedError || error instanceof InvalidOptionError) throw error;
      if (options.signal?.aborted) {
        throw new TRPCError({
          code: 'CLIENT_CLOSED_REQUEST',
          message: `Upstream ${what()} was cancelled`,
          cause: error,
        });
      }
      throw toTRPCError(error, what());
    }
  }

  #open(): KyInstance {
    if (this.#ky !== undefined) return this.#ky;
    this.#closed = false;
    // Node: an undici Agent through its dispatch API; elsewhere the platform fetch (see pool.ts).
    const pool = transport.openPool(this.#options);
    const options: KyOptions = {
      retry: 0,
      timeout: false,
      throwHttpErrors: true,
      ...pool.kyOptions,
      ...(this.#headers === undefined ? {} : { headers: this.#headers }),
    };
    this.#closing = new AbortController();
    this.#policy = { ...this.#retry, signal: this.#closing.signal };
    this.#pool = pool;
    this.#ky = ky.create(options);
    return this.#ky;
  }

  #client(): KyInstance {
    if (this.#ky !== undefined) return this.#ky;
    if (this.#closed) throw new ResilientClientClosedError(this.baseUrl);
    return this.#open();
  }

  /** GET with the client's retry policy, opening the pool first if needed. */
  #get(url: URL, options: RequestOptions): Promise<unknown> {
    this.#client();
    const href = url.href;
    return runWithRetry(this.#policy, () => this.#fetchBody(href, options), options.signal);
  }

  async #fetchBody(url: string, options: RequestOptions): Promise<unknown> {
    const { signal, headers } = options;
    const client = this.#client();
    // Per-call options cost a merge with the instance defaults: skip it when there are none.
    const response = await (signal === undefined && headers === undefined
      ? client.get(url)
      : client.get(url, {
          ...(signal === undefined ? {} : { signal }),
          ...(headers === undefined ? {} : { headers }),
        }));
    const text = await response.text();
    if (text === '') return '';
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }

  /** The request URL: base + path joined with one `/`, plus the query parameters. */
  #url(path: string, params: QueryParams | undefined): URL {
    if (typeof path !== 'string') {
      throw new InvalidOptionError('ResilientClient request', 'path', path, 'a string');
    }
    let url: URL;
    if (/^https?:\/\//i.test(path)) url = new URL(path);
    else if (this.baseUrl === '') {
      throw new InvalidOptionError(
        'ResilientClient request',
        'path',
        path,
        'an absolute http(s):// URL when the client has no baseUrl',
      );
    } else {
      url = new URL(`${this.#base}/${path.replace(/^\/+/, '')}`);
      // `..` segments are resolved by the URL parser: a path built from input
      // (`posts/${id}`) must not reach endpoints beside the base path.
      if (!url.pathname.startsWith(this.#basePath)) {
        throw new InvalidOptionError(
          'ResilientClient request',
          'path',
          path,
          `a path inside the base URL's path ${this.#basePath} (its ".." segments climb out of it)`,
        );
      }
    }
    if (params !== undefined) appendParams(url.searchParams, params);
    return url;
  }
}

function appendParams(search: URLSearchParams, params: QueryParams): void {
  if (params instanceof URLSearchParams) {
    for (const [name, value] of params) search.append(name, value);
    return;
  }
  for (const [name, value] of Object.entries(params)) {
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== undefined && item !== null) search.append(name, String(item));
    }
  }
}

import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate, inflateRaw, constants as zlibConstants } from 'node:zlib';
import { TimeoutError } from 'ky';
import { type Dispatcher, getGlobalDispatcher } from 'undici';

/** `fetch`'s init as ky hands it over: the options a `Request` cannot hold, undici's `dispatcher` among them. */
export type DispatcherInit = RequestInit & { dispatcher?: Dispatcher };

/** What ky calls through its `fetch` option (ky always passes a `Request`). */
export type KyFetch = (input: string | URL | Request, init?: DispatcherInit) => Promise<Response>;

/** Options of {@link createDispatcherFetch}. */
export interface DispatcherFetchOptions {
  /**
   * Milliseconds from sending the request (queueing for a pooled connection
   * included) to the response headers; past it the request is aborted with
   * ky's `TimeoutError`. `false` for none. Silence while the body streams is the
   * dispatcher's own `bodyTimeout`.
   */
  timeout: number | false;
}

/** Redirects followed like fetch's `redirect: 'follow'`. */
const MAX_REDIRECTIONS = 20;

/** Statuses whose response has no body, whatever the server sent. */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

const decoders: Readonly<Record<string, (input: Buffer) => Promise<Buffer>>> = (() => {
  // Like fetch: tolerate a body truncated at the end of the compressed stream.
  const tolerant = { flush: zlibConstants.Z_SYNC_FLUSH, finishFlush: zlibConstants.Z_SYNC_FLUSH };
  const gunzipAsync = promisify(gunzip);
  const inflateAsync = promisify(inflate);
  const inflateRawAsync = promisify(inflateRaw);
  const brotliAsync = promisify(brotliDecompress);
  const gzip = (input: Buffer) => gunzipAsync(input, tolerant);
  return {
    gzip,
    'x-gzip': gzip,
    // "deflate" is zlib-wrapped by the RFC, raw in the wild: the first byte tells.
    deflate: (input: Buffer) =>
      (input[0] !== undefined && (input[0] & 0x0f) === 0x08
        ? inflateAsync(input, tolerant)
        : inflateRawAsync(input, tolerant)) as Promise<Buffer>,
    br: (input: Buffer) => brotliAsync(input),
  };
})();

/** Undoes the `content-encoding` codings fetch would (gzip, deflate, br), last applied first. */
async function decode(body: Buffer, contentEncoding: string): Promise<Buffer> {
  const codings = contentEncoding
    .toLowerCase()
    .split(',')
    .map((coding) => coding.trim())
    .filter((coding) => coding !== '' && coding !== 'identity');
  let decoded = body;
  for (const coding of codings.reverse()) {
    const decoder = decoders[coding];
    // An unknown coding is left for the caller, as fetch does.
    if (decoder === undefined) return decoded;
    decoded = await decoder(decoded);
  }
  return decoded;
}

/** A raw header name or value as fetch reads it (bytes as Latin-1). */
const latin1 = (raw: Buffer | string | undefined): string =>
  typeof raw === 'string' ? raw : (raw?.toString('latin1') ?? '');

/** fetch's shape for a request that never got a complete response. */
function fetchFailed(cause: unknown, bodyStarted: boolean): TypeError {
  return new TypeError(bodyStarted ? 'terminated' : 'fetch failed', { cause });
}

/**
 * @internal A `fetch` for ky that sends through an undici dispatcher's own
 * `dispatch` API instead of the WHATWG fetch on top of it. Like fetch, it takes
 * the dispatcher from `init.dispatcher` (ky's `dispatcher` option lands there),
 * else undici's global one: the same pool, TLS and timeouts, at a fraction of fetch's CPU cost per request (fetch's spec
 * machinery — its own Request copy, stream plumbing, controller objects —
 * costs more than the request itself on a fast upstream).
 *
 * It keeps what callers of fetch rely on: redirects followed (20 at most,
 * credentials dropped across origins), gzip/deflate/br bodies decoded with
 * `accept-encoding` sent unless the request sets it, `accept` defaulting to any
 * type, the abort signal of the request honoured (rejecting with its reason),
 * and failures shaped as fetch's `TypeError` ("fetch failed", or "terminated"
 * once the body had started) with undici's error as `cause`. The body is read
 * whole before the `Response` is returned: made for bodiless requests (GET,
 * HEAD, DELETE without a body) whose responses are read whole anyway.
 */
export function createDispatcherFetch(options: DispatcherFetchOptions): KyFetch {
  const { timeout } = options;
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      // ky passes its Request, and as `init` only options a Request cannot hold.
      const request = input instanceof Request ? input : new Request(input, init);
      const dispatcher = init?.dispatcher ?? getGlobalDispatcher();
      const { signal } = request;
      if (signal.aborted) {
        reject(signal.reason);
        return;
      }
      if (request.body !== null) {
        reject(new TypeError('This client sends requests without a body only'));
        return;
      }
      const url = new URL(request.url);
      const headers: string[] = [];
      let accept = false;
      let acceptEncoding = false;
      for (const [name, value] of request.headers) {
        headers.push(name, value);
        if (name === 'accept') accept = true;
        else if (name === 'accept-encoding') acceptEncoding = true;
      }
      // fetch's defaults.
      if (!accept) headers.push('accept', '*/*');
      if (!acceptEncoding) headers.push('accept-encoding', 'gzip, deflate, br');

      let status = 0;
      let statusText = '';
      let responseHeaders: Headers;
      const chunks: Buffer[] = [];
      let size = 0;

      let abortDispatch: ((reason?: Error) => void) | undefined;
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const settle = () => {
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      const fail = (error: unknown) => {
        if (settled) return;
        settle();
        reject(error);
      };
      // Rejects at once with the caller's reason, as fetch does; the dispatch is
      // torn down behind it (its own error then lands on a settled promise).
      const stop = (error: unknown) => {
        fail(error);
        abortDispatch?.(error instanceof Error ? error : undefined);
      };
      function onAbort() {
        stop(signal.reason);
      }
      signal.addEventListener('abort', onAbort);
      if (timeout !== false) timer = setTimeout(() => stop(new TimeoutError(request)), timeout);

      const respond = (body: Buffer | null) => {
        if (settled) return;
        settle();
        try {
          resolve(
            new Response(body as Uint8Array<ArrayBuffer> | null, {
              status,
              statusText,
              headers: responseHeaders,
            }),
          );
        } catch (error) {
          // A status fetch cannot represent (outside 200-599).
          reject(fetchFailed(error, true));
        }
      };

      const handler: Dispatcher.DispatchHandlers = {
        onConnect(abort) {
          abortDispatch = abort;
          if (settled) abort();
        },
        onError(error) {
          // A status means the headers came: the body had started.
          fail(fetchFailed(error, status !== 0));
        },
        onHeaders(statusCode, rawHeaders, _resume, message) {
          if (settled) return false;
          // Past the headers, the per-phase timeouts of the dispatcher take over.
          if (timer !== undefined) clearTimeout(timer);
          timer = undefined;
          status = statusCode;
          statusText = message;
          responseHeaders = new Headers();
          try {
            for (let i = 0; i + 1 < (rawHeaders?.length ?? 0); i += 2) {
              responseHeaders.append(latin1(rawHeaders?.[i]), latin1(rawHeaders?.[i + 1]));
            }
          } catch (error) {
            // A header fetch would refuse too (a forbidden character in a value).
            stop(fetchFailed(error, false));
            return false;
          }
          return true;
        },
        onData(chunk) {
          chunks.push(chunk);
          size += chunk.length;
          return true;
        },
        onComplete() {
          if (settled) return;
          const noBody = NULL_BODY_STATUSES.has(status) || request.method === 'HEAD';
          const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
          const encoding = noBody || raw.length === 0 ? null : responseHeaders.get('content-encoding');
          if (encoding === null) respond(noBody ? null : raw);
          else decode(raw, encoding).then(respond, (error: unknown) => fail(fetchFailed(error, true)));
        },
      };

      try {
        dispatcher.dispatch(
          {
            origin: url.origin,
            path: `${url.pathname}${url.search}`,
            method: request.method as Dispatcher.HttpMethod,
            headers,
            maxRedirections: MAX_REDIRECTIONS,
            throwOnMaxRedirect: true,
          } as Dispatcher.DispatchOptions,
          handler,
        );
      } catch (error) {
        fail(fetchFailed(error, false));
      }
    });
}

/**
 * The demo's own response header, `demo-served-from`: for every call of an HTTP
 * response, in batch order, where its answer came from (`cache`, `upstream`, or
 * `-`). trpc-memory's `trpc-memory-ttl` header says how long a result stays valid;
 * this one only feeds the page's "served from cache" badge. It also shows how an
 * app's own `responseMeta` composes with `cacheHeaders()`.
 */
import type { AnyTRPCRouter } from '@trpc/server';
import type { ResponseMetaFn } from '@trpc/server/http';
import type { CallTrace } from './activity.js';

export const SERVED_FROM_HEADER = 'demo-served-from';

/**
 * tRPC hands the same `getRawInput` function to the middleware chain and to
 * `responseMeta` (as `info.calls[i].getRawInput`): it identifies one call.
 */
const traces = new WeakMap<object, CallTrace>();

export function rememberTrace(getRawInput: object, trace: CallTrace): void {
  traces.set(getRawInput, trace);
}

/** A `responseMeta` that adds `demo-served-from`; give it to `cacheHeaders()`. */
export function servedFromMeta<TRouter extends AnyTRPCRouter>(): ResponseMetaFn<TRouter> {
  return ({ info, data, eagerGeneration }) => {
    if (!info || eagerGeneration || info.calls.length === 0) return {};
    const entries = info.calls.map((call, index) => {
      const trace = traces.get(call.getRawInput);
      const response = data[index];
      if (trace === undefined || response === undefined || 'error' in response) return '-';
      return call.procedure?._def.type === 'query' ? (trace.ranResolver ? 'upstream' : 'cache') : '-';
    });
    return { headers: { [SERVED_FROM_HEADER]: entries.join(', ') } };
  };
}

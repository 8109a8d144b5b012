import type { TRPCMiddlewareFunction } from '@trpc/server';

/** The options tRPC hands a middleware, for any procedure chain. */
export type MiddlewareOptions<TContext, TMeta, TContextOverrides, TInputOut> = Parameters<
  TRPCMiddlewareFunction<TContext, TMeta, TContextOverrides, TContextOverrides, TInputOut>
>[0];

/** What a middleware that changes neither context nor output returns. */
export type MiddlewareResult<TContextOverrides> = ReturnType<
  MiddlewareOptions<object, unknown, TContextOverrides, unknown>['next']
>;

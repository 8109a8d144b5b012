import { InvalidOptionError, UpstreamSchemaError } from '../errors.js';

/**
 * The part of the Standard Schema interface (standardschema.dev) that
 * `ResilientClient.getJson` uses. zod (≥ 3.24), valibot, arktype and others
 * implement it, so none of them is needed at runtime by trpc-memory itself.
 *
 * @example
 * ```ts
 * const Post = z.object({ id: z.string() }); // a StandardSchema<{ id: string }>
 * await upstream.getJson('posts/1', undefined, { schema: Post });
 * ```
 */
export interface StandardSchema<Output = unknown> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: unknown; readonly output: Output } | undefined;
  };
}

/**
 * What a Standard Schema's `validate` returns.
 *
 * @example
 * ```ts
 * const result = await Post['~standard'].validate(body);
 * if (result.issues) console.warn(result.issues); else use(result.value);
 * ```
 */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardIssue[] };

/**
 * One validation failure: a message and where in the value it is.
 *
 * @example
 * ```ts
 * // { message: 'Expected string, received number', path: ['items', 0, 'name'] }
 * ```
 */
export interface StandardIssue {
  readonly message: string;
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

/**
 * The type a schema produces (`z.infer<typeof schema>` for zod).
 *
 * @example
 * ```ts
 * type Post = InferSchemaOutput<typeof PostSchema>; // z.infer<typeof PostSchema> for zod
 * ```
 */
export type InferSchemaOutput<S> = S extends StandardSchema<infer O> ? O : never;

/** `items.0.name` for the path of an issue; `(root)` for the value itself. */
function formatPath(path: StandardIssue['path']): string {
  if (path === undefined || path.length === 0) return '(root)';
  return path
    .map((segment) => String(typeof segment === 'object' && segment !== null ? segment.key : segment))
    .join('.');
}

function isStandardSchema(value: unknown): value is StandardSchema {
  const props = (value as { '~standard'?: { validate?: unknown } } | null)?.['~standard'];
  return typeof props?.validate === 'function';
}

/** @internal Checks `value` against `schema`; returns the (possibly transformed) output. */
export async function validateWithSchema<S extends StandardSchema>(
  schema: S,
  value: unknown,
  what: string,
): Promise<InferSchemaOutput<S>> {
  const result = await schema['~standard'].validate(value);
  if (result.issues !== undefined)
    throw new UpstreamSchemaError(
      result.issues,
      result.issues.map((issue) => formatPath(issue.path)),
      what,
    );
  return result.value as InferSchemaOutput<S>;
}

/** @internal */
export function assertSchema(where: string, schema: unknown): asserts schema is StandardSchema | undefined {
  if (schema !== undefined && !isStandardSchema(schema)) {
    throw new InvalidOptionError(
      where,
      'schema',
      schema,
      'a Standard Schema (a zod ≥ 3.24, valibot or arktype schema, with a "~standard" property)',
    );
  }
}

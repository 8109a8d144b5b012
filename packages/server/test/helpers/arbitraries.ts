/**
 * fast-check arbitraries for attacking key building: strings made of the
 * characters that have broken keys before (lone surrogates, U+FFFD, NUL, the
 * separators and escape characters of the key format), and inputs of every type
 * superjson carries, plus an oracle saying when two inputs are the same input.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';

/** Characters that matter to the key format and to UTF-8, plus ordinary ones. */
const TRICKY_UNITS = [
  'a',
  'b',
  ':',
  '%',
  '%3A',
  '%25',
  '#',
  '~',
  '=',
  '^',
  '*',
  '[',
  '\\',
  '"',
  '.',
  '\u0000',
  '\uD800',
  '\uDBFF',
  '\uDC00',
  '\uFFFD',
  '\uD83D\uDE00',
  'é',
];

/** Strings over the tricky units (short, so distinct draws often differ by one unit) or any UTF-16 units. */
export const trickyString = (maxLength = 8, minLength = 0): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: fc.constantFrom(...TRICKY_UNITS), minLength, maxLength }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength, maxLength }) },
    {
      weight: 1,
      arbitrary: fc.string({
        unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
        minLength,
        maxLength,
      }),
    },
  );

/** Like {@link trickyString}, sometimes very long (past every verbatim limit). */
export const anyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: trickyString() },
  {
    weight: 1,
    arbitrary: fc
      .tuple(trickyString(4), fc.integer({ min: 60, max: 400 }), trickyString(3))
      .map(([head, n, tail]) => `${head}${'x'.repeat(n)}${tail}`),
  },
);

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  anyString,
  fc.integer({ min: -3, max: 3 }),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt({ min: -3n, max: 3n }),
  fc.date({ min: new Date(0), max: new Date(3) }),
  fc.constantFrom(new Date(Number.NaN)),
);

/** Values of every type the key represents (and superjson carries), nested a few levels. */
export const typedValue: fc.Arbitrary<unknown> = fc.letrec<{
  node: unknown;
  array: unknown[];
  object: Record<string, unknown>;
  map: Map<unknown, unknown>;
  set: Set<unknown>;
  special: unknown;
}>((tie) => ({
  node: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'value' },
    leaf,
    tie('array'),
    tie('object'),
    tie('map'),
    tie('set'),
    tie('special'),
  ),
  array: fc.array(tie('node'), { maxLength: 3, depthIdentifier: 'value' }),
  object: fc.dictionary(trickyString(4), tie('node'), { maxKeys: 3, depthIdentifier: 'value' }),
  map: fc
    .array(fc.tuple(tie('node'), tie('node')), { maxLength: 2, depthIdentifier: 'value' })
    .map((entries) => new Map(entries)),
  set: fc.array(tie('node'), { maxLength: 2, depthIdentifier: 'value' }).map((items) => new Set(items)),
  special: fc.oneof(
    trickyString(4).map((path) => new URL(`https://a.example/${path}`)),
    fc
      .constantFrom('https://a.example/', 'https://b.example/', 'https://a.example/private?token=1')
      .map((href) => new URL(href)),
    fc
      .tuple(fc.constantFrom('a', 'a:', '\\d'), fc.constantFrom('', 'g', 'i'))
      .map(([s, f]) => new RegExp(s, f)),
  ),
})).node;

class Instant {
  constructor(readonly time: number) {}
}

/** The same input as far as a resolver can tell: undefined properties dropped, Dates by their time. */
function normalize(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(normalize);
  if (value instanceof Date) return new Instant(value.getTime());
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [normalize(k), normalize(v)]));
  if (value instanceof Set) return new Set([...value].map(normalize));
  if (value instanceof URL || value instanceof RegExp) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v !== undefined) Object.defineProperty(out, k, { value: normalize(v), enumerable: true });
  }
  return out;
}

/** Whether two inputs are the same input (the oracle keys are checked against). */
export function sameInput(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(normalize(a), normalize(b));
}

/** A copy of `value` with object keys and Map/Set entries in reverse order: the same input. */
export function reordered(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(reordered);
  if (value instanceof Map)
    return new Map([...value].reverse().map(([k, v]) => [reordered(k), reordered(v)]));
  if (value instanceof Set) return new Set([...value].reverse().map(reordered));
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof URL) return new URL(value.href);
  if (value instanceof RegExp) return new RegExp(value.source, value.flags);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value).reverse()) {
    Object.defineProperty(out, k, {
      value: reordered(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

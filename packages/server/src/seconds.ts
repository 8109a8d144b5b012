/**
 * The one validator of every option that is a number of seconds (`expire`, the
 * Redis backend's timeouts, `purgeInterval`, retry waits and delays, the
 * `ResilientClient` timeouts), so they all accept the same values and say the
 * same thing when refusing one: an `InvalidOptionError` whose `allowed` reads
 * `a finite number of seconds > 0`, `≥ 0`, `(Infinity allowed)`, `at most N`,
 * `(or omitted)` as the rule says.
 *
 * Not exported from the package entry.
 */
import { InvalidOptionError } from './errors.js';

/** What a seconds option accepts besides a finite number > 0. */
export interface SecondsRule {
  /** `0` is accepted. Default: `false`. */
  allowZero?: boolean;
  /** Negative numbers are accepted (a lower bound that is clamped later). Default: `false`. */
  allowNegative?: boolean;
  /** `Infinity` is accepted (never `-Infinity` or `NaN`). Default: `false`. */
  allowInfinity?: boolean;
  /** `undefined` is accepted (the option is omitted). Default: `false`. */
  optional?: boolean;
  /** The largest value accepted. Default: none. */
  max?: number;
}

/** The `allowed` text of an `InvalidOptionError` for `rule`. */
export function describeSeconds(rule: SecondsRule = {}): string {
  const { allowZero = false, allowNegative = false, allowInfinity = false, optional = false, max } = rule;
  let text = `a ${allowInfinity ? '' : 'finite '}number of seconds`;
  if (!allowNegative) text += allowZero ? ' ≥ 0' : ' > 0';
  if (allowInfinity) text += ' (Infinity allowed)';
  if (max !== undefined) text += ` (at most ${Math.floor(max)})`;
  if (optional) text += ' (or omitted)';
  return text;
}

/**
 * Throws an `InvalidOptionError` (`where`, `option`, the value, {@link describeSeconds})
 * unless `value` is a number of seconds that `rule` accepts.
 */
export function assertSeconds(
  where: string,
  option: string,
  value: unknown,
  rule: SecondsRule & { optional: true },
): asserts value is number | undefined;
export function assertSeconds(
  where: string,
  option: string,
  value: unknown,
  rule?: SecondsRule,
): asserts value is number;
export function assertSeconds(where: string, option: string, value: unknown, rule: SecondsRule = {}): void {
  if (value === undefined && rule.optional === true) return;
  if (!isSeconds(value, rule)) throw new InvalidOptionError(where, option, value, describeSeconds(rule));
}

function isSeconds(value: unknown, rule: SecondsRule): value is number {
  if (typeof value !== 'number' || Number.isNaN(value)) return false;
  if (value === Number.NEGATIVE_INFINITY) return false;
  if (value === Number.POSITIVE_INFINITY && rule.allowInfinity !== true) return false;
  if (rule.max !== undefined && value > rule.max) return false;
  if (rule.allowNegative === true) return true;
  return value > 0 || (value === 0 && rule.allowZero === true);
}

/** `expire` of `createCache`, `initCache`, `cache.set`, `memorize` and `memorizeFn`: seconds > 0, or omitted. */
export function assertExpire(where: string, expire: unknown): asserts expire is number | undefined {
  assertSeconds(where, 'expire', expire, { optional: true });
}

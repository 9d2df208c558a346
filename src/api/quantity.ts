/**
 * Kubernetes resource quantities (k8s.io/apimachinery/pkg/api/resource), exact.
 *
 * A quantity is held as a whole number of nano-units in a BigInt, rounded away from zero as
 * Kubernetes rounds anything finer than 1n. The canonical string follows Kubernetes'
 * CanonicalizeBytes: decimal values take the largest SI exponent (a multiple of 3) that keeps the
 * mantissa whole; binary values take the largest power of 1024 that does, and fall back to decimal
 * when the value is below 1024 or not whole.
 */
import { BerthError } from './errors.js';

export const QUANTITY_FORMATS = ['DecimalSI', 'BinarySI', 'DecimalExponent'] as const;
export type QuantityFormat = (typeof QUANTITY_FORMATS)[number];

const DECIMAL_SUFFIX_EXPONENT: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const EXPONENT_DECIMAL_SUFFIX = new Map(Object.entries(DECIMAL_SUFFIX_EXPONENT).map(([s, e]) => [e, s]));
const BINARY_SUFFIX_POWER: Record<string, number> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const BINARY_SUFFIXES = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];

/** Exponents beyond this are refused rather than expanded into enormous BigInts. */
const MAX_ABS_EXPONENT = 64;
const NANO = 10n ** 9n;

const NUMBER_AND_SUFFIX = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$/;
const EXPONENT_SUFFIX = /^[eE]([+-]?[0-9]+)$/;

export interface Quantity {
  /** The exact decimal value, e.g. "0.5" for "500m", "1073741824" for "1Gi". */
  readonly value: string;
  readonly format: QuantityFormat;
  /** Nano-units (value × 10⁹), exact. */
  readonly nanos: bigint;
  /** Canonical form, as Kubernetes would serialise it. */
  toString(): string;
  cmp(other: Quantity): -1 | 0 | 1;
  /** Whole milli-units, rounded up (CPU millicores). */
  milliValue(): bigint;
  /** Whole units, rounded up (bytes). */
  intValue(): bigint;
}

function ceilDiv(n: bigint, d: bigint): bigint {
  // Away from zero, as Kubernetes' RoundUp.
  const q = n / d;
  return n % d === 0n ? q : n > 0n ? q + 1n : q - 1n;
}

function invalid(input: string, why: string): BerthError {
  return new BerthError('Invalid', `invalid quantity ${JSON.stringify(input)}: ${why}`);
}

/** Parses a quantity; numbers (as YAML gives `cpu: 1`) are accepted as their decimal text. */
export function parseQuantity(input: string | number): Quantity {
  const text = typeof input === 'number' ? numberText(input) : input;
  const m = NUMBER_AND_SUFFIX.exec(text);
  if (!m || text === '')
    throw invalid(text, 'must match the regular expression ^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$');
  const [, sign = '', whole = '', fraction = '', suffix = ''] = m;
  if (whole === '' && fraction === '') throw invalid(text, 'no digits');

  let format: QuantityFormat;
  let decimalExponent = 0;
  let binaryPower = 0;
  const exp = EXPONENT_SUFFIX.exec(suffix);
  if (suffix in DECIMAL_SUFFIX_EXPONENT) {
    format = 'DecimalSI';
    decimalExponent = DECIMAL_SUFFIX_EXPONENT[suffix]!;
  } else if (suffix in BINARY_SUFFIX_POWER) {
    format = 'BinarySI';
    binaryPower = BINARY_SUFFIX_POWER[suffix]!;
  } else if (exp) {
    format = 'DecimalExponent';
    decimalExponent = Number(exp[1]);
    if (Math.abs(decimalExponent) > MAX_ABS_EXPONENT) throw invalid(text, 'exponent out of range');
  } else {
    throw invalid(
      text,
      `unknown suffix ${JSON.stringify(suffix)} (use n, u, m, k, M, G, T, P, E, Ki…Ei or an exponent)`,
    );
  }

  const digits = BigInt((whole || '0') + fraction);
  let numerator = digits * 1024n ** BigInt(binaryPower) * NANO;
  let denominator = 10n ** BigInt(fraction.length);
  if (decimalExponent >= 0) numerator *= 10n ** BigInt(decimalExponent);
  else denominator *= 10n ** BigInt(-decimalExponent);
  let nanos = ceilDiv(numerator, denominator);
  if (sign === '-') nanos = -nanos;
  // A binary amount that is not a whole number of units has no binary-suffix form: decimal, as Kubernetes reads it.
  if (format === 'BinarySI' && nanos % NANO !== 0n) format = 'DecimalSI';
  return makeQuantity(nanos, format);
}

function numberText(n: number): string {
  if (!Number.isFinite(n)) throw invalid(String(n), 'not a finite number');
  return String(n).replace('e+', 'e');
}

export function quantityFromNanos(nanos: bigint, format: QuantityFormat = 'DecimalSI'): Quantity {
  return makeQuantity(nanos, format);
}

function makeQuantity(nanos: bigint, format: QuantityFormat): Quantity {
  let canonical: string | undefined;
  return {
    value: decimalString(nanos),
    format,
    nanos,
    toString: () => (canonical ??= canonicalString(nanos, format)),
    cmp: (other) => (nanos < other.nanos ? -1 : nanos > other.nanos ? 1 : 0),
    milliValue: () => ceilDiv(nanos, 10n ** 6n),
    intValue: () => ceilDiv(nanos, NANO),
  };
}

function decimalString(nanos: bigint): string {
  const negative = nanos < 0n;
  const abs = negative ? -nanos : nanos;
  const whole = abs / NANO;
  const fraction = (abs % NANO).toString().padStart(9, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? '.' + fraction : ''}`;
}

function canonicalString(nanos: bigint, format: QuantityFormat): string {
  if (nanos === 0n) return '0';
  const negative = nanos < 0n;
  const abs = negative ? -nanos : nanos;
  const sign = negative ? '-' : '';

  if (format === 'BinarySI' && abs >= 1024n * NANO && abs % NANO === 0n) {
    let units = abs / NANO;
    let power = 0;
    while (power < 6 && units % 1024n === 0n) {
      units /= 1024n;
      power++;
    }
    return `${sign}${units}${BINARY_SUFFIXES[power]}`;
  }

  // abs = mantissa × 10^exponent with mantissa not divisible by 10.
  let mantissa = abs;
  let exponent = -9;
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent++;
  }
  const siExponent = Math.min(Math.floor(exponent / 3) * 3, 18);
  mantissa *= 10n ** BigInt(exponent - siExponent);
  if (format === 'DecimalExponent') return `${sign}${mantissa}${siExponent === 0 ? '' : 'e' + siExponent}`;
  return `${sign}${mantissa}${EXPONENT_DECIMAL_SUFFIX.get(siExponent)}`;
}

/** True when the value parses; for validators that only need a yes/no. */
export function isQuantity(input: unknown): boolean {
  if (typeof input !== 'string' && typeof input !== 'number') return false;
  try {
    parseQuantity(input);
    return true;
  } catch {
    return false;
  }
}

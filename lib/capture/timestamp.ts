/**
 * Exact decimal timestamps. Capture files store time as an integer count of units since the
 * Unix epoch; we print it as `seconds.fraction` with no floating point on the way, with 6
 * decimals for microsecond (or coarser) files and 9 for nanosecond files.
 *
 * @module
 */

/** How a pcapng interface counts time: `10^-exponent` or `2^-exponent` seconds per unit. */
export interface TimeResolution {
  /** The base of the unit: 10 (the common case) or 2. */
  base: 10 | 2;
  /** The unit is `base^-exponent` seconds. */
  exponent: number;
}

/** Microseconds: the default of classic pcap and of pcapng without `if_tsresol`. */
export const MICROSECONDS: TimeResolution = { base: 10, exponent: 6 };
/** Nanoseconds. */
export const NANOSECONDS: TimeResolution = { base: 10, exponent: 9 };

/** Decodes the one-octet pcapng `if_tsresol` option value. */
export function resolutionFromTsresol(octet: number): TimeResolution {
  return (octet & 0x80) ? { base: 2, exponent: octet & 0x7f } : { base: 10, exponent: octet };
}

/**
 * Number of decimals printed for a resolution: 6 for microseconds or coarser, 9 for finer
 * decimal units down to nanoseconds, the exponent itself beyond that; binary units print 9
 * (nanoseconds, truncated).
 */
export function decimalsFor(res: TimeResolution): number {
  if (res.base === 2) return 9;
  if (res.exponent <= 6) return 6;
  if (res.exponent <= 9) return 9;
  return res.exponent;
}

const POW10: number[] = Array.from({ length: 16 }, (_, i) => 10 ** i);

/**
 * Formats seconds plus a fraction already expressed in `decimals` digits.
 * `seconds` may be negative only through a negative pcapng `if_tsoffset`.
 */
function join(seconds: bigint | number, frac: bigint | number, decimals: number): string {
  return `${seconds}.${String(frac).padStart(decimals, "0")}`;
}

/**
 * Formats a classic pcap timestamp (seconds plus micro- or nanoseconds). A fraction that
 * overflows one second (bad writers do that) is carried into the seconds.
 */
export function formatPcapTimestamp(seconds: number, fraction: number, nano: boolean): string {
  const unit = nano ? 1_000_000_000 : 1_000_000;
  if (fraction >= unit) {
    seconds += Math.floor(fraction / unit);
    fraction %= unit;
  }
  return join(seconds, fraction, nano ? 9 : 6);
}

/**
 * Formats a pcapng timestamp: a 64-bit count of units (given as high and low 32-bit halves)
 * at resolution `res`, plus `offsetSeconds` (from `if_tsoffset`).
 */
export function formatUnitsTimestamp(
  high: number,
  low: number,
  res: TimeResolution,
  offsetSeconds: bigint = 0n,
): string {
  const decimals = decimalsFor(res);
  if (res.base === 10 && res.exponent <= 15 && high < 0x200000 && offsetSeconds === 0n) {
    // Fast path: the unit count is below 2^53, so plain numbers are exact.
    const units = high * 0x1_0000_0000 + low;
    const perSecond = POW10[res.exponent];
    const seconds = Math.floor(units / perSecond);
    const frac = (units - seconds * perSecond) * POW10[decimals - res.exponent];
    return join(seconds, frac, decimals);
  }
  const units = (BigInt(high) << 32n) | BigInt(low);
  if (res.base === 10) {
    const perSecond = 10n ** BigInt(res.exponent);
    const seconds = units / perSecond + offsetSeconds;
    const frac = (units % perSecond) * 10n ** BigInt(decimals - res.exponent);
    return signed(seconds, frac, decimals);
  }
  const perSecond = 1n << BigInt(res.exponent);
  const seconds = units / perSecond + offsetSeconds;
  const frac = ((units % perSecond) * 10n ** BigInt(decimals)) / perSecond;
  return signed(seconds, frac, decimals);
}

function signed(seconds: bigint, frac: bigint, decimals: number): string {
  if (seconds >= 0n || frac === 0n) return join(seconds, frac, decimals);
  // -1 s + 0.25 s = -0.75 s: print the exact negative value.
  const scale = 10n ** BigInt(decimals);
  const total = seconds * scale + frac;
  const abs = -total;
  return `-${join(abs / scale, abs % scale, decimals)}`;
}

/**
 * Failover absolute time (seconds since 2000-01-01T00:00:00Z, mod 2^32; RFC 8156 §3) as
 * used in wire fields, built on the epoch helpers of `lib/util/clock.ts`.
 *
 * @module
 */

import { failoverTimeToIso, unixToFailoverTime } from "../util/clock.ts";

/** ISO 8601 text of an absolute time, e.g. `2024-03-01T12:00:10Z`. */
export function absoluteTimeToIso(t: number): string {
  return failoverTimeToIso(t);
}

/** Absolute time (whole seconds since 2000, mod 2^32) of a millisecond Unix clock reading. */
export function absoluteTimeFromMs(ms: number): number {
  return unixToFailoverTime(Math.floor(ms / 1000));
}

/** `<n> (<ISO>)`, the text rendering of an absolute time. */
export function formatAbsoluteTime(t: number): string {
  return `${t} (${absoluteTimeToIso(t)})`;
}

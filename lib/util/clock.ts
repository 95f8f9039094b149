/**
 * The clock interface: every state machine and timer takes time from a Clock,
 * never from `Date.now()` directly, so tests run on a fake clock with no sleeps.
 *
 * @module
 */

/** A source of the current time in milliseconds since the Unix epoch. */
export interface Clock {
  /** Milliseconds since 1970-01-01T00:00:00Z. */
  now(): number;
}

/**
 * The real wall clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Clock, systemClock } from "@failover6/failover6";
 *
 * function stamp(clock: Clock): string {
 *   return new Date(clock.now()).toISOString();
 * }
 * assert.match(stamp(systemClock), /^\d{4}-\d\d-\d\dT/);
 * ```
 */
export const systemClock: Clock = { now: () => Date.now() };

/**
 * A clock that only moves when told to: for tests and simulations.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FakeClock } from "@failover6/failover6";
 *
 * const clock = new FakeClock(1709294400000);
 * clock.advance(1500);
 * assert.equal(clock.now(), 1709294401500);
 * clock.set(0);
 * assert.equal(clock.now(), 0);
 * ```
 */
export class FakeClock implements Clock {
  #ms: number;
  /** Starts at `startMs` milliseconds since the Unix epoch. */
  constructor(startMs = 0) {
    this.#ms = startMs;
  }
  /** The current fake time. */
  now(): number {
    return this.#ms;
  }
  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.#ms += ms;
  }
  /** Sets the clock to an absolute time. */
  set(ms: number): void {
    this.#ms = ms;
  }
}

/** Seconds between the Unix epoch and the DHCPv6 failover epoch 2000-01-01T00:00:00Z. */
export const EPOCH_2000_UNIX_SECONDS = 946684800;

/**
 * Converts Unix seconds to failover absolute time (seconds since 2000-01-01, mod 2^32).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unixToFailoverTime } from "@failover6/failover6";
 *
 * assert.equal(unixToFailoverTime(946684800), 0); // 2000-01-01T00:00:00Z
 * assert.equal(unixToFailoverTime(Date.UTC(2024, 2, 1, 12) / 1000), 762609600);
 * ```
 */
export function unixToFailoverTime(unixSeconds: number): number {
  return ((Math.floor(unixSeconds) - EPOCH_2000_UNIX_SECONDS) % 0x1_0000_0000 + 0x1_0000_0000) %
    0x1_0000_0000;
}

/**
 * Converts failover absolute time (seconds since 2000-01-01) to Unix seconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { failoverTimeToUnix } from "@failover6/failover6";
 *
 * assert.equal(new Date(failoverTimeToUnix(762609600) * 1000).toISOString(), "2024-03-01T12:00:00.000Z");
 * ```
 */
export function failoverTimeToUnix(t: number): number {
  return t + EPOCH_2000_UNIX_SECONDS;
}

/** ISO 8601 rendering of a failover absolute time, e.g. `2024-03-01T12:00:00Z`. */
export function failoverTimeToIso(t: number): string {
  return new Date(failoverTimeToUnix(t) * 1000).toISOString().replace(".000Z", "Z");
}

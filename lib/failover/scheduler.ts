/**
 * Named timers for the engine's `set-timer` / `cancel-timer` actions, behind an interface so
 * that the shell runs on real timers and tests run on a fake clock with no sleeps:
 * {@linkcode RealScheduler} uses `setTimeout` against a {@linkcode Clock};
 * {@linkcode ManualScheduler} fires timers only when a test advances its {@linkcode FakeClock}.
 *
 * @module
 */

import type { Clock, FakeClock } from "../util/clock.ts";

/** Keeps at most one pending timer per name; setting a name again replaces it. */
export interface Scheduler {
  /** Calls `fn` once at absolute time `at` (ms, on the scheduler's clock). */
  set(name: string, at: number, fn: () => void): void;
  /** Cancels the named timer, if pending. */
  cancel(name: string): void;
  /** Cancels every timer. */
  cancelAll(): void;
}

/** Real timers: `setTimeout` for `at − clock.now()`. */
export class RealScheduler implements Scheduler {
  readonly #clock: Clock;
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();

  /** @param clock the clock `at` refers to */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  set(name: string, at: number, fn: () => void): void {
    this.cancel(name);
    const delay = Math.max(0, Math.min(at - this.#clock.now(), 0x7fff_ffff));
    const id = setTimeout(() => {
      this.#timers.delete(name);
      fn();
    }, delay);
    this.#timers.set(name, id);
  }

  cancel(name: string): void {
    const id = this.#timers.get(name);
    if (id !== undefined) {
      clearTimeout(id);
      this.#timers.delete(name);
    }
  }

  cancelAll(): void {
    for (const id of this.#timers.values()) clearTimeout(id);
    this.#timers.clear();
  }
}

/**
 * Timers on a {@linkcode FakeClock}: nothing fires until {@linkcode advance} or
 * {@linkcode runDue}; due timers fire in time order (ties in the order they were set), and
 * timers set while firing also fire if they are due.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FakeClock, ManualScheduler } from "@failover6/failover6";
 *
 * const timers = new ManualScheduler(new FakeClock(0));
 * const fired: string[] = [];
 * timers.set("keepalive", 60_000, () => fired.push("keepalive"));
 * timers.set("contact", 15_000, () => fired.push("contact"));
 * timers.advance(30_000);
 * assert.deepEqual(fired, ["contact"]);
 * assert.deepEqual(timers.pending(), [{ name: "keepalive", at: 60_000 }]);
 * ```
 */
export class ManualScheduler implements Scheduler {
  /** The fake clock the timers run on. */
  readonly clock: FakeClock;
  readonly #timers = new Map<string, { at: number; seq: number; fn: () => void }>();
  #seq = 0;

  /**
   * Creates a scheduler with no timers.
   *
   * @param clock the fake clock tests move
   */
  constructor(clock: FakeClock) {
    this.clock = clock;
  }

  set(name: string, at: number, fn: () => void): void {
    this.#timers.set(name, { at, seq: this.#seq++, fn });
  }

  cancel(name: string): void {
    this.#timers.delete(name);
  }

  cancelAll(): void {
    this.#timers.clear();
  }

  /** Pending timers, earliest first. */
  pending(): { name: string; at: number }[] {
    return [...this.#timers].sort((a, b) => a[1].at - b[1].at || a[1].seq - b[1].seq)
      .map(([name, t]) => ({ name, at: t.at }));
  }

  /** When the named timer is due, or undefined. */
  due(name: string): number | undefined {
    return this.#timers.get(name)?.at;
  }

  /** Fires every timer due at the clock's current time; returns how many fired. */
  runDue(): number {
    let fired = 0;
    for (;;) {
      const now = this.clock.now();
      let next: [string, { at: number; seq: number; fn: () => void }] | undefined;
      for (const e of this.#timers) {
        if (e[1].at > now) continue;
        if (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].seq < next[1].seq)) {
          next = e;
        }
      }
      if (!next) return fired;
      this.#timers.delete(next[0]);
      fired++;
      next[1].fn();
    }
  }

  /**
   * Moves the clock forward by `ms`, stopping at each timer on the way so that each fires
   * with the clock at its own due time.
   */
  advance(ms: number): void {
    const end = this.clock.now() + ms;
    for (;;) {
      this.runDue();
      let nextAt = Infinity;
      for (const t of this.#timers.values()) nextAt = Math.min(nextAt, t.at);
      if (nextAt > end) break;
      this.clock.set(Math.max(this.clock.now(), nextAt));
    }
    this.clock.set(end);
    this.runDue();
  }
}

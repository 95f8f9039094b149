/**
 * Time for the test partner: a {@linkcode Scheduler} is a `Clock` that can also run a callback
 * later. `realScheduler` uses the wall clock and `setTimeout`; {@linkcode VirtualScheduler} keeps
 * a virtual clock that jumps to the next timer whenever every other piece of work is waiting, so
 * scenario runs over an in-memory network take no real time at all.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import type { Clock } from "../util/clock.ts";

/** A handle returned by {@linkcode Scheduler.setTimer}. */
export type TimerId = number;

/** A clock plus one-shot timers. */
export interface Scheduler extends Clock {
  /** Runs `callback` once, `delayMs` milliseconds from now (0 or less: as soon as possible). */
  setTimer(delayMs: number, callback: () => void): TimerId;
  /** Cancels a timer; unknown or fired ids are ignored. */
  clearTimer(id: TimerId): void;
}

const realTimers = new Map<number, ReturnType<typeof setTimeout>>();
let realNextId = 1;

/**
 * The wall clock with `setTimeout`.
 *
 * @example
 * ```ts
 * import { realScheduler } from "@failover6/failover6";
 * const id = realScheduler.setTimer(10_000, () => console.log("never"));
 * realScheduler.clearTimer(id);
 * console.log(realScheduler.now() > 0); // true
 * ```
 */
export const realScheduler: Scheduler = {
  now: () => Date.now(),
  setTimer(delayMs, callback) {
    const id = realNextId++;
    realTimers.set(
      id,
      setTimeout(() => {
        realTimers.delete(id);
        callback();
      }, Math.max(0, delayMs)),
    );
    return id;
  },
  clearTimer(id) {
    const h = realTimers.get(id);
    if (h !== undefined) clearTimeout(h);
    realTimers.delete(id);
  },
};

/** A promise that resolves after `ms` milliseconds of scheduler time. */
export function sleep(scheduler: Scheduler, ms: number): Promise<void> {
  return new Promise((resolve) => scheduler.setTimer(ms, resolve));
}

interface VirtualTimer {
  id: number;
  at: number;
  seq: number;
  callback: () => void;
}

/** Thrown by {@linkcode VirtualScheduler.run} when nothing can make progress any more. */
export class DeadlockError extends Error {
  override name = "DeadlockError";
}

/**
 * A virtual clock for tests. Time only moves inside {@linkcode VirtualScheduler.run}: when all
 * promise work has settled (nothing left but timers), the clock jumps to the earliest timer and
 * fires it. Work must be promise-driven (e.g. `MemoryNetwork`), not real I/O.
 *
 * Not re-exported by `mod.ts` yet: JSR's no-slow-types rule wants an explicit type on the
 * constructor's `startMs` parameter first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VirtualScheduler } from "./scheduler.ts";
 *
 * const scheduler = new VirtualScheduler(Date.UTC(2024, 2, 1, 12));
 * const start = scheduler.now();
 * const oneHour = new Promise<number>((resolve) =>
 *   scheduler.setTimer(3_600_000, () => resolve(scheduler.now()))
 * );
 * // An hour of virtual time passes at once.
 * assert.equal(await scheduler.run(oneHour), start + 3_600_000);
 * ```
 */
export class VirtualScheduler implements Scheduler {
  #now: number;
  #timers: VirtualTimer[] = [];
  #nextId = 1;
  #seq = 0;

  /** Starts the virtual clock at `startMs` (Unix milliseconds). */
  constructor(startMs: number = Date.UTC(2024, 2, 1, 12, 0, 0)) {
    this.#now = startMs;
  }

  /** The virtual time. */
  now(): number {
    return this.#now;
  }

  /** Number of timers not yet fired. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Schedules `callback` at `now + delayMs`. */
  setTimer(delayMs: number, callback: () => void): TimerId {
    const id = this.#nextId++;
    this.#timers.push({
      id,
      at: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      callback,
    });
    return id;
  }

  /** Cancels a timer. */
  clearTimer(id: TimerId): void {
    this.#timers = this.#timers.filter((t) => t.id !== id);
  }

  /** Fires the earliest timer (moving the clock to it); false if there is none. */
  fireNext(): boolean {
    if (this.#timers.length === 0) return false;
    let best = 0;
    for (let i = 1; i < this.#timers.length; i++) {
      const t = this.#timers[i];
      const b = this.#timers[best];
      if (t.at < b.at || (t.at === b.at && t.seq < b.seq)) best = i;
    }
    const [t] = this.#timers.splice(best, 1);
    if (t.at > this.#now) this.#now = t.at;
    t.callback();
    return true;
  }

  /**
   * Awaits `work`, advancing virtual time whenever everything else is idle. Throws
   * {@linkcode DeadlockError} if `work` is still pending with no timer left, and stops after
   * `maxSteps` timer firings (default 1,000,000) as a guard against endless loops.
   */
  async run<T>(work: Promise<T>, maxSteps = 1_000_000): Promise<T> {
    let settled = false;
    work.then(() => settled = true, () => settled = true);
    let steps = 0;
    while (true) {
      await drainMicrotasks();
      if (!settled) await drainMicrotasks();
      if (settled) return await work;
      if (!this.fireNext()) {
        throw new DeadlockError("virtual scheduler: work is waiting but no timer is left");
      }
      if (++steps > maxSteps) throw new DeadlockError(`virtual scheduler: over ${maxSteps} steps`);
    }
  }
}

/**
 * Resolves after every microtask queued so far (and those they queue) has run, and after the
 * immediates queued before it (a macrotask turn; `setTimeout(0)` would be clamped to 1–4 ms).
 */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

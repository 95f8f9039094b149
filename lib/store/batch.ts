/**
 * Grouped commit: the shell between many writers (one per client transaction) and one
 * {@linkcode BindingStore}. Writes that arrive within a short window (or until a count is
 * reached) go into ONE transaction; each writer's promise resolves only after that COMMIT,
 * so a Reply or BNDREPLY is sent only once its lease is durable.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import { canonicalWrites, markCanonical } from "./lease.ts";
import { type BindingStore, StoreError, type StoreWrite } from "./types.ts";

/** Timer functions, injectable so tests control when a window closes. */
export interface BatchTimer {
  /** Calls `fn` once after `ms` milliseconds; returns a handle for {@linkcode clear}. */
  set(fn: () => void, ms: number): unknown;
  /** Cancels a pending call. */
  clear(handle: unknown): void;
}

/**
 * The real timers. A 0 ms window uses `setImmediate`: the batch closes once the I/O callbacks
 * that are ready now have run (`setTimeout(fn, 0)` would be clamped to 1–4 ms).
 */
export const realTimer: BatchTimer = {
  set: (fn, ms) => (ms <= 0 ? { immediate: setImmediate(fn) } : { timeout: setTimeout(fn, ms) }),
  clear: (h) => {
    const t = h as { immediate?: ReturnType<typeof setImmediate>; timeout?: number };
    if (t.immediate !== undefined) clearImmediate(t.immediate);
    if (t.timeout !== undefined) clearTimeout(t.timeout);
  },
};

/** What one committed (or failed) batch looked like, for metrics. */
export interface BatchInfo {
  /** Writers (calls to `write`) in the batch. */
  writers: number;
  /** Individual writes in the batch. */
  writes: number;
  /** Milliseconds the transaction took, measured with `performance.now()`. */
  commitMs: number;
  /** Whether the batch committed as one transaction. */
  ok: boolean;
}

/** Options of {@linkcode BatchCommitter}. */
export interface BatchCommitterOptions {
  /**
   * How long the first write of a batch waits for company, ms (default 2). 0 closes the batch
   * as soon as the I/O that is ready has been handled (adaptive grouping, lowest latency).
   */
  windowMs?: number;
  /** Commit at once when this many writers are waiting (default 512). */
  maxWriters?: number;
  /** Timer functions (default: `setTimeout`). */
  timer?: BatchTimer;
  /** Called after each batch (for metrics such as commit latency). */
  onBatch?: (info: BatchInfo) => void;
}

/** Counters of a {@linkcode BatchCommitter}. */
export interface BatchStats {
  /** Transactions that committed (grouped or, after a failure, single). */
  transactions: number;
  /** Writers whose writes are durable. */
  committedWriters: number;
  /** Writers whose promise was rejected. */
  failedWriters: number;
}

interface Pending {
  writes: readonly StoreWrite[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Collects writes into grouped transactions. Usage:
 * `await committer.write([{ type: "lease", lease }])` then send the Reply.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BatchCommitter, emptyLease, MemoryBindingStore } from "@failover6/failover6";
 *
 * const store = new MemoryBindingStore();
 * const committer = new BatchCommitter(store);
 * const lease = (address: string) => emptyLease({ kind: "na", address });
 * // Two writers, one transaction.
 * await Promise.all([
 *   committer.write([{ type: "lease", lease: lease("2001:db8::10") }]),
 *   committer.write([{ type: "lease", lease: lease("2001:db8::11") }]),
 * ]);
 * assert.equal(store.commits, 1);
 * assert.equal(store.count(), 2);
 * await committer.close();
 * ```
 */
export class BatchCommitter {
  readonly #store: BindingStore;
  readonly #windowMs: number;
  readonly #maxWriters: number;
  readonly #timer: BatchTimer;
  readonly #onBatch?: (info: BatchInfo) => void;
  #queue: Pending[] = [];
  #sealed: Pending[][] = [];
  #handle: unknown = undefined;
  #microtask = false;
  #closed = false;
  #stats: BatchStats = { transactions: 0, committedWriters: 0, failedWriters: 0 };

  /**
   * Creates a committer; nothing is written until {@linkcode BatchCommitter.write}.
   *
   * @param store where the writes go
   * @param options window, size limit, timer, hook
   */
  constructor(store: BindingStore, options: BatchCommitterOptions = {}) {
    this.#store = store;
    this.#windowMs = Math.max(0, options.windowMs ?? 2);
    this.#maxWriters = Math.max(1, Math.floor(options.maxWriters ?? 512));
    this.#timer = options.timer ?? realTimer;
    this.#onBatch = options.onBatch;
  }

  /** A copy of the counters. */
  get stats(): BatchStats {
    return { ...this.#stats };
  }

  /** Writers waiting for a commit. */
  get waiting(): number {
    return this.#queue.length + this.#sealed.reduce((n, b) => n + b.length, 0);
  }

  /**
   * Queues writes for the next grouped transaction. Resolves once they are committed;
   * rejects with a {@linkcode StoreError} if they are invalid (at once, without affecting
   * other writers) or cannot be committed.
   */
  write(writes: readonly StoreWrite[]): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new StoreError("closed", "the batch committer is closed"));
    }
    let checked: readonly StoreWrite[];
    try {
      checked = canonicalWrites(writes);
    } catch (e) {
      this.#stats.failedWriters++;
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ writes: checked, resolve, reject });
      if (this.#queue.length >= this.#maxWriters) {
        this.#seal();
        this.#commitSoon();
      } else if (this.#handle === undefined) {
        this.#handle = this.#timer.set(() => {
          this.#handle = undefined;
          this.#commitAll();
        }, this.#windowMs);
      }
    });
  }

  /** Closes the open batch: it will be committed as one transaction. */
  #seal(): void {
    if (this.#handle !== undefined) {
      this.#timer.clear(this.#handle);
      this.#handle = undefined;
    }
    if (this.#queue.length > 0) this.#sealed.push(this.#queue);
    this.#queue = [];
  }

  #commitSoon(): void {
    if (this.#microtask) return;
    this.#microtask = true;
    queueMicrotask(() => {
      this.#microtask = false;
      this.#commitSealed();
    });
  }

  /** Commits everything queued now. */
  flush(): Promise<void> {
    this.#commitAll();
    return Promise.resolve();
  }

  #commitAll(): void {
    this.#seal();
    this.#commitSealed();
  }

  #commitSealed(): void {
    const sealed = this.#sealed;
    this.#sealed = [];
    for (const batch of sealed) this.#commit(batch);
  }

  #commit(batch: Pending[]): void {
    const all = batch.length === 1
      ? batch[0].writes
      : markCanonical(batch.flatMap((p) => p.writes));
    const t0 = performance.now();
    try {
      this.#store.apply(all);
      this.#stats.transactions++;
      this.#stats.committedWriters += batch.length;
      this.#onBatch?.({
        writers: batch.length,
        writes: all.length,
        commitMs: performance.now() - t0,
        ok: true,
      });
      for (const p of batch) p.resolve();
      return;
    } catch (e) {
      this.#onBatch?.({
        writers: batch.length,
        writes: all.length,
        commitMs: performance.now() - t0,
        ok: false,
      });
      if (batch.length === 1) {
        this.#stats.failedWriters++;
        batch[0].reject(e);
        return;
      }
    }
    // The grouped transaction failed: retry each writer alone so one bad write does not
    // take the others down with it.
    for (const p of batch) {
      try {
        this.#store.apply(p.writes);
        this.#stats.transactions++;
        this.#stats.committedWriters++;
        p.resolve();
      } catch (e) {
        this.#stats.failedWriters++;
        p.reject(e);
      }
    }
  }

  /** Commits what is queued and refuses further writes. */
  close(): Promise<void> {
    this.#commitAll();
    this.#closed = true;
    return Promise.resolve();
  }
}

/**
 * Where the shell sends lease writes: a {@linkcode Committer} groups them into transactions
 * (the store's {@linkcode BatchCommitter}) and resolves each writer once its writes are
 * durable. Two ways to run it:
 *
 * - `worker`: the BatchCommitter and its own SQLite connection live in a Web Worker
 *   (`commit_worker.ts`), so the fsync of each commit does not stop the main thread from
 *   receiving and answering datagrams (WAL lets the main thread's connection read meanwhile);
 * - `in-thread`: the BatchCommitter runs on the main thread (memory stores, or where a worker
 *   cannot be started, e.g. a single-file bundle).
 *
 * Either way a Reply is sent only after its writes are committed.
 *
 * **Lazy writes** ({@linkcode Committer.writeLazy}): writes whose loss is harmless (the
 * primary's record that a BNDUPD was acknowledged: a lost one only makes it send the BNDUPD
 * again after a restart) wait in memory and ride along, in front, with the next ordinary write,
 * in its transaction, so they cost no commit of their own; with no ordinary write for
 * {@linkcode LAZY_FLUSH_MS} they are committed alone. Nobody waits for them, and they stay in
 * order with every other write (written before anything issued after them).
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { BatchCommitter, type BatchInfo } from "../../store/batch.ts";
import { packedTransfer, type PackedWrites, packWrites } from "../../store/packed.ts";
import {
  type BindingStore,
  StoreError,
  type StoreErrorKind,
  type StoreWrite,
} from "../../store/types.ts";

/** Grouped, durable writes. */
export interface Committer {
  /** How it runs. */
  readonly mode: "worker" | "in-thread";
  /** Resolves once `writes` are committed (one transaction shared with other writers). */
  write(writes: readonly StoreWrite[]): Promise<void>;
  /**
   * Queues writes whose loss is harmless (see the module doc): committed in front of the next
   * {@linkcode write}'s, or alone after {@linkcode LAZY_FLUSH_MS}. A failure is only counted.
   */
  writeLazy(writes: readonly StoreWrite[]): void;
  /** Lazy writes committed so far, and lazy writes that failed. */
  readonly lazy: { committed: number; failed: number };
  /** Resolves once everything written so far (lazy writes included) has settled. */
  flush(): Promise<void>;
  /** Commits what is queued and stops. */
  close(): Promise<void>;
  /** Transactions committed so far. */
  readonly commits: number;
}

/** How long lazy writes wait for an ordinary write to ride along with, ms. */
export const LAZY_FLUSH_MS = 100;

/** Lazy writes queued beyond this many are committed at once, alone. */
export const LAZY_MAX_WRITES = 4096;

/**
 * One writer's writes for the writer thread. `lazy`: lazy writes to commit in front of
 * `writes`, in the same transaction, as a writer of their own (whose failure is not `writes`'
 * failure).
 */
export interface WriteRequest {
  /** Discriminant. */
  type: "write";
  /** The writer, answered in a `done` message. */
  id: number;
  /** Its writes. */
  writes: readonly StoreWrite[];
  /** Lazy writes riding along. */
  lazy?: readonly StoreWrite[];
  /** The writer id of `lazy`. */
  lazyId?: number;
}

/**
 * Messages to the writer thread. `writes`: the writes of several writers made in one turn of
 * the main thread's event loop, handled in order as if each came alone.
 */
export type WorkerRequest =
  | { type: "open"; path: string; windowMs: number }
  | WriteRequest
  | PackedRequest
  | { type: "close" };

/**
 * The writers of one turn of the main thread's event loop in one message, their writes in
 * one {@linkcode PackedWrites} (its buffers transferred, not copied): writer `i` owns the
 * next `sizes[i]` writes, of which the first `lazySizes[i]` are lazy writes riding in front
 * under writer id `lazyIds[i]` (0: none).
 */
export interface PackedRequest {
  /** Discriminant. */
  type: "packed";
  /** Every writer's writes, in order. */
  packed: PackedWrites;
  /** Writer ids, answered in `done` messages. */
  ids: number[];
  /** Writes per writer (lazy ones included). */
  sizes: number[];
  /** Lazy writes at the front of each writer's run. */
  lazySizes: number[];
  /** The writer id of each writer's lazy writes (0: none). */
  lazyIds: number[];
}

/** Messages from the writer thread. */
export type WorkerReply =
  | { type: "opened" }
  | { type: "open-failed"; error: { kind: string; message: string } }
  | { type: "done"; ids: number[]; errors?: { id: number; kind: string; message: string }[] }
  | { type: "batch"; info: BatchInfo }
  | { type: "closed"; commits: number };

/** Options of {@linkcode openCommitter}. */
export interface CommitterOptions {
  /** The main thread's store (used directly in-thread; for reads only with a worker). */
  store: BindingStore;
  /** The database file, when the store is a file (a worker needs it). */
  path?: string;
  /** Group-commit window, ms (0: adaptive). */
  windowMs: number;
  /** Called after each grouped commit. */
  onBatch?: (info: BatchInfo) => void;
  /** Try the writer thread (default true when `path` is a file). */
  worker?: boolean;
}

/** The lazy writes a committer holds, and the timer that commits them alone. */
class LazyQueue {
  #writes: StoreWrite[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #flushAlone: (writes: readonly StoreWrite[]) => void;

  /** @param flushAlone commits lazy writes that found no ordinary write to ride with */
  constructor(flushAlone: (writes: readonly StoreWrite[]) => void) {
    this.#flushAlone = flushAlone;
  }

  add(writes: readonly StoreWrite[]): void {
    for (const w of writes) this.#writes.push(w);
    if (this.#writes.length >= LAZY_MAX_WRITES) this.flush();
    else if (this.#timer === undefined && this.#writes.length > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, LAZY_FLUSH_MS);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** The queued writes (then empty), or undefined when there are none. */
  take(): StoreWrite[] | undefined {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#writes.length === 0) return undefined;
    const w = this.#writes;
    this.#writes = [];
    return w;
  }

  /** Commits what is queued alone, now. */
  flush(): void {
    const w = this.take();
    if (w) this.#flushAlone(w);
  }
}

class InThreadCommitter implements Committer {
  readonly mode = "in-thread" as const;
  readonly #c: BatchCommitter;
  readonly #pending = new Set<Promise<void>>();
  readonly #lazyQueue = new LazyQueue((w) => this.#writeLazyNow(w));
  readonly lazy = { committed: 0, failed: 0 };

  constructor(store: BindingStore, windowMs: number, onBatch?: (info: BatchInfo) => void) {
    this.#c = new BatchCommitter(store, { windowMs, onBatch });
  }

  get commits(): number {
    return this.#c.stats.transactions;
  }

  writeLazy(writes: readonly StoreWrite[]): void {
    this.#lazyQueue.add(writes);
  }

  #writeLazyNow(writes: readonly StoreWrite[]): void {
    const n = writes.length;
    this.#track(this.#c.write(writes)).then(
      () => this.lazy.committed += n,
      () => this.lazy.failed += n,
    );
  }

  write(writes: readonly StoreWrite[]): Promise<void> {
    // In front, in the same batch (both are queued before the batch closes).
    const lazy = this.#lazyQueue.take();
    if (lazy) this.#writeLazyNow(lazy);
    return this.#track(this.#c.write(writes));
  }

  #track(p: Promise<void>): Promise<void> {
    const settled = p.then(() => {}, () => {});
    this.#pending.add(settled);
    settled.then(() => this.#pending.delete(settled));
    return p;
  }

  async flush(): Promise<void> {
    this.#lazyQueue.flush();
    await this.#c.flush();
    await Promise.all([...this.#pending]);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#c.close();
  }
}

function storeError(e: { kind: string; message: string }): StoreError {
  return new StoreError(e.kind as StoreErrorKind, e.message);
}

class WorkerCommitter implements Committer {
  readonly mode = "worker" as const;
  readonly #worker: Worker;
  readonly #waiting = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  readonly #onBatch?: (info: BatchInfo) => void;
  readonly #pending = new Set<Promise<void>>();
  readonly #lazyQueue = new LazyQueue((w) => this.#writeLazyNow(w));
  readonly lazy = { committed: 0, failed: 0 };
  #outbox: WriteRequest[] = [];
  #nextId = 1;
  #commits = 0;
  #failed?: StoreError;
  #closed?: Promise<void>;
  #onClosed?: () => void;

  constructor(worker: Worker, onBatch?: (info: BatchInfo) => void) {
    this.#worker = worker;
    this.#onBatch = onBatch;
    worker.onmessage = (ev: MessageEvent<WorkerReply>) => this.#receive(ev.data);
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      this.#fail(new StoreError("io", `lease writer thread failed: ${ev.message}`));
    };
  }

  get commits(): number {
    return this.#commits;
  }

  #receive(m: WorkerReply): void {
    if (m.type === "done") {
      for (const id of m.ids) {
        const w = this.#waiting.get(id);
        if (w === undefined) continue;
        this.#waiting.delete(id);
        w.resolve();
      }
      for (const e of m.errors ?? []) {
        const w = this.#waiting.get(e.id);
        if (w === undefined) continue;
        this.#waiting.delete(e.id);
        w.reject(storeError(e));
      }
    } else if (m.type === "batch") {
      if (m.info.ok) this.#commits++;
      this.#onBatch?.(m.info);
    } else if (m.type === "closed") {
      this.#onClosed?.();
    }
  }

  #fail(e: StoreError): void {
    this.#failed = e;
    for (const w of this.#waiting.values()) w.reject(e);
    this.#waiting.clear();
    this.#onClosed?.();
  }

  writeLazy(writes: readonly StoreWrite[]): void {
    if (this.#failed || this.#closed) {
      this.lazy.failed += writes.length;
      return;
    }
    this.#lazyQueue.add(writes);
  }

  #writeLazyNow(writes: readonly StoreWrite[]): void {
    const n = writes.length;
    this.#post(writes).then(() => this.lazy.committed += n, () => this.lazy.failed += n);
  }

  write(writes: readonly StoreWrite[]): Promise<void> {
    return this.#post(writes, this.#lazyQueue.take());
  }

  #post(writes: readonly StoreWrite[], lazy?: readonly StoreWrite[]): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.reject(new StoreError("closed", "the committer is closed"));
    const id = this.#nextId++;
    const lazyId = lazy ? this.#nextId++ : 0;
    if (lazy) {
      const n = lazy.length;
      this.#waiting.set(lazyId, {
        resolve: () => this.lazy.committed += n,
        reject: () => this.lazy.failed += n,
      });
    }
    const p = new Promise<void>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      try {
        const m: WriteRequest = lazy
          ? { type: "write", id, writes, lazy, lazyId }
          : { type: "write", id, writes };
        // Writes made in one turn of the event loop go to the writer thread in one message
        // (one wake-up of that thread, one message event each side).
        this.#outbox.push(m);
        if (this.#outbox.length === 1) setImmediate(this.#sendOutbox);
      } catch (e) {
        if (lazy) {
          this.#waiting.delete(lazyId);
          this.lazy.failed += lazy.length;
        }
        this.#waiting.delete(id);
        reject(
          new StoreError(
            "invalid",
            `cannot pass writes to the writer thread: ${(e as Error).message}`,
          ),
        );
      }
    });
    const settled = p.then(() => {}, () => {});
    this.#pending.add(settled);
    settled.then(() => this.#pending.delete(settled));
    return p;
  }

  /**
   * Posts the writes queued in this turn in one message, packed (see {@linkcode
   * PackedRequest}); writes that cannot be passed fail their writers alone.
   */
  readonly #sendOutbox = (): void => {
    const list = this.#outbox;
    if (list.length === 0) return;
    this.#outbox = [];
    const all: StoreWrite[] = [];
    const m: PackedRequest = {
      type: "packed",
      packed: undefined as unknown as PackedWrites,
      ids: [],
      sizes: [],
      lazySizes: [],
      lazyIds: [],
    };
    for (const r of list) {
      const lazy = r.lazy ?? [];
      for (const w of lazy) all.push(w);
      for (const w of r.writes) all.push(w);
      m.ids.push(r.id);
      m.sizes.push(lazy.length + r.writes.length);
      m.lazySizes.push(lazy.length);
      m.lazyIds.push(r.lazyId ?? 0);
    }
    try {
      m.packed = packWrites(all);
      this.#worker.postMessage(m, packedTransfer(m.packed));
      return;
    } catch { /* one of them cannot be passed: find which */ }
    for (const r of list) {
      try {
        this.#worker.postMessage(r);
      } catch (e) {
        const error = new StoreError(
          "invalid",
          `cannot pass writes to the writer thread: ${(e as Error).message}`,
        );
        for (const id of r.lazyId === undefined ? [r.id] : [r.lazyId, r.id]) {
          const w = this.#waiting.get(id);
          this.#waiting.delete(id);
          w?.reject(error);
        }
      }
    }
  };

  async flush(): Promise<void> {
    this.#lazyQueue.flush();
    this.#sendOutbox();
    await Promise.all([...this.#pending]);
  }

  close(): Promise<void> {
    if (this.#closed) return this.#closed;
    this.#closed = (async () => {
      await this.flush();
      if (this.#failed) {
        this.#worker.terminate();
        return;
      }
      await new Promise<void>((resolve) => {
        this.#onClosed = resolve;
        this.#worker.postMessage({ type: "close" } satisfies WorkerRequest);
      });
      this.#worker.terminate();
    })();
    return this.#closed;
  }
}

/**
 * Opens a committer: the writer thread when the store is a file and a worker can be started
 * (its connection must open the file), otherwise in-thread. `fallback` says why the worker
 * was not used, when it was tried.
 */
export async function openCommitter(
  options: CommitterOptions,
): Promise<{ committer: Committer; fallback?: string }> {
  const inThread = () => new InThreadCommitter(options.store, options.windowMs, options.onBatch);
  const path = options.path;
  if (options.worker === false || path === undefined || path === ":memory:") {
    return { committer: inThread() };
  }
  // Bundled (`deno task bundle`), this module is part of dist/failover6.js and the writer
  // thread is dist/commit_worker.js, bundled beside it; otherwise it is the .ts source.
  const url = new URL(
    import.meta.url.endsWith(".js") ? "./commit_worker.js" : "./commit_worker.ts",
    import.meta.url,
  );
  if (url.protocol === "file:") {
    // A bundle copied without its writer thread: do not let Deno report it, say so.
    try {
      Deno.statSync(url);
    } catch {
      return { committer: inThread(), fallback: `${url.pathname} is not there` };
    }
  }
  let worker: Worker;
  try {
    worker = new Worker(url, { type: "module" });
  } catch (e) {
    return { committer: inThread(), fallback: (e as Error).message };
  }
  const opened = await new Promise<string | undefined>((resolve) => {
    worker.onmessage = (ev: MessageEvent<WorkerReply>) => {
      if (ev.data.type === "opened") resolve(undefined);
      else if (ev.data.type === "open-failed") resolve(ev.data.error.message);
    };
    worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      resolve(ev.message || "the writer thread did not start");
    };
    worker.postMessage(
      { type: "open", path, windowMs: options.windowMs } satisfies WorkerRequest,
    );
  });
  if (opened !== undefined) {
    worker.terminate();
    return { committer: inThread(), fallback: opened };
  }
  return { committer: new WorkerCommitter(worker, options.onBatch) };
}

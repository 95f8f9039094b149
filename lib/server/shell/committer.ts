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
 * @module
 */

import { BatchCommitter, type BatchInfo } from "../../store/batch.ts";
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
  /** Resolves once everything written so far has settled. */
  flush(): Promise<void>;
  /** Commits what is queued and stops. */
  close(): Promise<void>;
  /** Transactions committed so far. */
  readonly commits: number;
}

/** Messages to the writer thread. */
export type WorkerRequest =
  | { type: "open"; path: string; windowMs: number }
  | { type: "write"; id: number; writes: readonly StoreWrite[] }
  | { type: "close" };

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

class InThreadCommitter implements Committer {
  readonly mode = "in-thread" as const;
  readonly #c: BatchCommitter;
  readonly #pending = new Set<Promise<void>>();

  constructor(store: BindingStore, windowMs: number, onBatch?: (info: BatchInfo) => void) {
    this.#c = new BatchCommitter(store, { windowMs, onBatch });
  }

  get commits(): number {
    return this.#c.stats.transactions;
  }

  write(writes: readonly StoreWrite[]): Promise<void> {
    const p = this.#c.write(writes);
    const settled = p.then(() => {}, () => {});
    this.#pending.add(settled);
    settled.then(() => this.#pending.delete(settled));
    return p;
  }

  async flush(): Promise<void> {
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

  write(writes: readonly StoreWrite[]): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#closed) return Promise.reject(new StoreError("closed", "the committer is closed"));
    const id = this.#nextId++;
    const p = new Promise<void>((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      try {
        this.#worker.postMessage({ type: "write", id, writes } satisfies WorkerRequest);
      } catch (e) {
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

  async flush(): Promise<void> {
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
  const url = new URL("./commit_worker.ts", import.meta.url);
  if (url.protocol === "file:") {
    // A single-file bundle has no worker module next to it: do not let Deno report it.
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

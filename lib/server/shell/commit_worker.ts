/**
 * The lease-database writer thread of `failover6 serve`: a Web Worker that owns its own
 * connection to the SQLite file and a {@linkcode BatchCommitter}, so that the fsync of each
 * grouped commit (WAL, synchronous FULL) waits in this thread while the main thread goes on
 * receiving and answering datagrams. Protocol: see {@linkcode WorkerRequest} and
 * {@linkcode WorkerReply} in `committer.ts`.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { BatchCommitter } from "../../store/batch.ts";
import { SqliteBindingStore } from "../../store/sqlite.ts";
import { StoreError } from "../../store/types.ts";
import { unpackWrites } from "../../store/packed.ts";
import type { PackedRequest, WorkerReply, WorkerRequest, WriteRequest } from "./committer.ts";

let store: SqliteBindingStore | undefined;
let committer: BatchCommitter | undefined;

function post(m: WorkerReply): void {
  self.postMessage(m);
}

// The writers of one grouped commit settle together: answer them in one message.
let doneIds: number[] = [];
let doneErrors: { id: number; kind: string; message: string }[] = [];
let flushQueued = false;

function settle(id: number, error?: { kind: string; message: string }): void {
  if (error) doneErrors.push({ id, ...error });
  else doneIds.push(id);
  if (flushQueued) return;
  flushQueued = true;
  queueMicrotask(() => {
    flushQueued = false;
    const m: WorkerReply = doneErrors.length > 0
      ? { type: "done", ids: doneIds, errors: doneErrors }
      : { type: "done", ids: doneIds };
    doneIds = [];
    doneErrors = [];
    post(m);
  });
}

function errorOf(e: unknown): { kind: string; message: string } {
  if (e instanceof StoreError) return { kind: e.kind, message: e.message };
  return { kind: "io", message: e instanceof Error ? e.message : String(e) };
}

function write(m: WriteRequest): void {
  if (committer === undefined) {
    if (m.lazyId !== undefined) settle(m.lazyId, { kind: "closed", message: "not open" });
    settle(m.id, { kind: "closed", message: "not open" });
    return;
  }
  if (m.lazy && m.lazyId !== undefined) {
    // In front of `writes`, in the same batch, as a writer of its own.
    const lazyId = m.lazyId;
    committer.write(m.lazy).then(() => settle(lazyId), (e) => settle(lazyId, errorOf(e)));
  }
  committer.write(m.writes).then(() => settle(m.id), (e) => settle(m.id, errorOf(e)));
}

/** The writers of a {@linkcode PackedRequest}, each as if it came alone. */
function writePacked(m: PackedRequest): void {
  let writes;
  try {
    writes = unpackWrites(m.packed);
  } catch (e) {
    const error = { kind: "invalid", message: (e as Error).message };
    for (let i = 0; i < m.ids.length; i++) {
      if (m.lazyIds[i]) settle(m.lazyIds[i], error);
      settle(m.ids[i], error);
    }
    return;
  }
  let at = 0;
  for (let i = 0; i < m.ids.length; i++) {
    const lazy = m.lazySizes[i];
    const end = at + m.sizes[i];
    write(
      lazy > 0
        ? {
          type: "write",
          id: m.ids[i],
          lazy: writes.slice(at, at + lazy),
          lazyId: m.lazyIds[i],
          writes: writes.slice(at + lazy, end),
        }
        : { type: "write", id: m.ids[i], writes: writes.slice(at, end) },
    );
    at = end;
  }
}

self.onmessage = (ev: MessageEvent<WorkerRequest>) => {
  const m = ev.data;
  switch (m.type) {
    case "open": {
      try {
        store = SqliteBindingStore.open(m.path, { integrityCheck: "none", create: false });
        committer = new BatchCommitter(store, {
          windowMs: m.windowMs,
          onBatch: (info) => post({ type: "batch", info }),
        });
        post({ type: "opened" });
      } catch (e) {
        post({ type: "open-failed", error: errorOf(e) });
      }
      return;
    }
    case "write":
      write(m);
      return;
    case "packed":
      writePacked(m);
      return;
    case "close": {
      (async () => {
        try {
          await committer?.close();
        } finally {
          const commits = store?.commits ?? 0;
          try {
            store?.close();
          } catch { /* already closed */ }
          post({ type: "closed", commits });
          self.close();
        }
      })();
      return;
    }
  }
};

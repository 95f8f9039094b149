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
import type { WorkerReply, WorkerRequest } from "./committer.ts";

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
    case "write": {
      if (committer === undefined) {
        settle(m.id, { kind: "closed", message: "not open" });
        return;
      }
      committer.write(m.writes).then(() => settle(m.id), (e) => settle(m.id, errorOf(e)));
      return;
    }
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

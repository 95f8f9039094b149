/**
 * Durable bindings: the {@linkcode BindingStore} interface, its SQLite and in-memory
 * implementations, and the {@linkcode BatchCommitter} that groups commits.
 *
 * @module
 */

export * from "./types.ts";
export {
  type CanonicalKey,
  canonicalLease,
  canonicalWrites,
  dueTime,
  emptyLease,
  normaliseDuid,
} from "./lease.ts";
export { MemoryBindingStore } from "./memory.ts";
export {
  APPLICATION_ID,
  type IntegrityCheck,
  SqliteBindingStore,
  type SqliteStoreOptions,
} from "./sqlite.ts";
export {
  BatchCommitter,
  type BatchCommitterOptions,
  type BatchInfo,
  type BatchStats,
  type BatchTimer,
  realTimer,
} from "./batch.ts";

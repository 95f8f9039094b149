/**
 * How a failover engine reaches the lease database of the server it runs in:
 *
 * - {@linkcode ScopedCommitter}: the engine's writes go through the server's own grouped
 *   committer (one queue, so engine and client writes to one lease commit in the order they
 *   were made), and every lease written gets its pool name and relationship when it has none
 *   (leases learned from the partner's BNDUPDs arrive without a pool), so pool figures,
 *   `needingUpdate(relationship)` and the allocator's occupancy see them;
 * - {@linkcode IndexedReads}: the engine driver's view of the store, whose `get` and
 *   `countByPool` read the server's in-memory lease index, so a BNDUPD or BNDREPLY is handled
 *   against the newest binding, including a client transaction whose grouped commit is still
 *   in flight, and pool balancing counts without scanning the database.
 *
 * @module
 */

import type {
  BindingStore,
  EndpointStateRecord,
  Lease,
  LeaseKey,
  LeasePage,
  LeaseQuery,
  PoolStatusCount,
  StoreWrite,
} from "../../store/types.ts";
import { BatchCommitter } from "../../store/batch.ts";
import type { LeaseIndex } from "../lease_index.ts";
import { type LeaseScope, poolNameOf } from "../failover_policy.ts";

/** Fills in `pool` and `relationship` of a lease from the configuration, when empty. */
export function scopeLease(lease: Lease, scope: LeaseScope): Lease {
  if (lease.pool !== "" && lease.relationship !== "") return lease;
  const subnet = scope.subnetOf(lease);
  if (!subnet) return lease;
  const pool = lease.pool !== "" ? lease.pool : poolNameOf(subnet, lease);
  const relationship = lease.relationship !== "" ? lease.relationship : subnet.relationship ?? "";
  if (pool === lease.pool && relationship === lease.relationship) return lease;
  return { ...lease, pool, relationship };
}

/** Delegates everything to another store. */
class StoreView implements BindingStore {
  protected readonly inner: BindingStore;
  constructor(inner: BindingStore) {
    this.inner = inner;
  }
  get(key: LeaseKey): Lease | undefined {
    return this.inner.get(key);
  }
  getByClient(clientDuid: string, iaid?: number): Lease[] {
    return this.inner.getByClient(clientDuid, iaid);
  }
  list(query?: LeaseQuery): LeasePage {
    return this.inner.list(query);
  }
  needingUpdate(relationship?: string): IterableIterator<Lease> {
    return this.inner.needingUpdate(relationship);
  }
  all(relationship?: string): IterableIterator<Lease> {
    return this.inner.all(relationship);
  }
  count(): number {
    return this.inner.count();
  }
  countByPool(): PoolStatusCount[] {
    return this.inner.countByPool();
  }
  nextExpiry(): number | undefined {
    return this.inner.nextExpiry();
  }
  dueBy(time: number, limit?: number): Lease[] {
    return this.inner.dueBy(time, limit);
  }
  getEndpointState(relationship: string): EndpointStateRecord | undefined {
    return this.inner.getEndpointState(relationship);
  }
  listEndpointStates(): EndpointStateRecord[] {
    return this.inner.listEndpointStates();
  }
  getServerDuid(): string | undefined {
    return this.inner.getServerDuid();
  }
  apply(writes: readonly StoreWrite[]): void {
    this.inner.apply(writes);
  }
  upsert(leases: readonly Lease[]): void {
    this.apply(leases.map((lease) => ({ type: "lease", lease })));
  }
  get commits(): number {
    return this.inner.commits;
  }
  close(): void {
    this.inner.close();
  }
}

/** Grouped, durable writes: what the server's committer offers. */
export interface WriteQueue {
  /** Resolves once `writes` are committed. */
  write(writes: readonly StoreWrite[]): Promise<void>;
  /**
   * Queues writes whose loss is harmless, committed with the next `write` (or alone a little
   * later) without anyone waiting for them (`Committer.writeLazy`). Without it every write is
   * durable before it resolves.
   */
  writeLazy?(writes: readonly StoreWrite[]): void;
  /** Resolves once everything written so far has settled. */
  flush(): Promise<void>;
}

/** How the engine's writes are grouped before they join the server's queue. */
export interface ScopedCommitterOptions {
  /**
   * Writes arriving within this many ms go to the server's queue as one writer, so acks and
   * accepted BNDUPDs cost one transaction per window rather than one each (default 0: each
   * write at once; the server's committer still groups what arrives while a commit runs). A
   * window delays every message the driver sends after a write (its barrier), so it trades
   * BNDUPD throughput for fewer transactions at low load.
   */
  windowMs?: number;
  /** Send at once when this many writes wait (default 1024). */
  maxWrites?: number;
  /**
   * Writes that may be lazy (see {@linkcode WriteQueue.writeLazy}): when every write of one
   * call is, they are queued lazily and the call resolves at once, so nothing the engine sends
   * next waits for a commit. Default: none.
   */
  deferrable?: (write: StoreWrite) => boolean;
}

interface Waiting {
  writes: readonly StoreWrite[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * A {@linkcode BatchCommitter} (the type the engine driver takes) that forwards the engine's
 * writes, scoped (see the module doc) and grouped over a short window, to the server's queue
 * instead of committing itself. Each write's promise resolves once the server's committer has
 * made it durable, so a BNDREPLY still leaves only after its binding is stored (§7.5.2).
 *
 * Grouping delays an engine write, and a client write made meanwhile may commit first; so a
 * lease goes out as the lease index holds it when the group is sent: the index is always the
 * newest version (every server and engine change is applied to it at once), and a client
 * write made from it already contains the engine's change.
 */
export class ScopedCommitter extends BatchCommitter {
  readonly #target: WriteQueue;
  readonly #scope: LeaseScope;
  readonly #index: LeaseIndex | undefined;
  readonly #windowMs: number;
  readonly #maxWrites: number;
  readonly #deferrable: ((write: StoreWrite) => boolean) | undefined;
  #waiting: Waiting[] = [];
  #count = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * @param target the server's committer
   * @param store any store (never written here)
   * @param scope maps leases to subnets
   * @param index the server's lease index (the newest version of each lease)
   */
  constructor(
    target: WriteQueue,
    store: BindingStore,
    scope: LeaseScope,
    index?: LeaseIndex,
    options: ScopedCommitterOptions = {},
  ) {
    super(store);
    this.#target = target;
    this.#scope = scope;
    this.#index = index;
    this.#windowMs = Math.max(0, options.windowMs ?? 0);
    this.#maxWrites = Math.max(1, options.maxWrites ?? 1024);
    this.#deferrable = options.deferrable;
  }

  override write(writes: readonly StoreWrite[]): Promise<void> {
    const d = this.#deferrable;
    if (d && this.#target.writeLazy && writes.length > 0 && writes.every(d)) {
      this.#target.writeLazy(scopeWrites(writes, this.#scope));
      return RESOLVED;
    }
    if (this.#windowMs === 0 || !this.#index) {
      return this.#target.write(scopeWrites(writes, this.#scope));
    }
    return new Promise((resolve, reject) => {
      this.#waiting.push({ writes, resolve, reject });
      this.#count += writes.length;
      if (this.#count >= this.#maxWrites) this.#send();
      else if (this.#timer === undefined) {
        this.#timer = setTimeout(() => this.#send(), this.#windowMs);
      }
    });
  }

  /** Sends what waits as one writer: the last endpoint record per relationship, the newest lease per key. */
  #send(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#waiting;
    this.#waiting = [];
    this.#count = 0;
    if (batch.length === 0) return;
    const leases = new Map<string, Lease>();
    const other: StoreWrite[] = [];
    for (const b of batch) {
      for (const w of b.writes) {
        if (w.type === "lease") {
          leases.set(`${w.lease.kind} ${w.lease.address}/${w.lease.prefixLength}`, w.lease);
        } else other.push(w);
      }
    }
    const writes: StoreWrite[] = [...other];
    for (const l of leases.values()) {
      writes.push({ type: "lease", lease: scopeLease(this.#index!.get(l) ?? l, this.#scope) });
    }
    this.#target.write(writes).then(
      () => {
        for (const b of batch) b.resolve();
      },
      (e) => {
        for (const b of batch) b.reject(e);
      },
    );
  }

  override flush(): Promise<void> {
    this.#send();
    return this.#target.flush();
  }

  override close(): Promise<void> {
    return this.flush();
  }
}

const RESOLVED: Promise<void> = Promise.resolve();

/** `writes` with every lease scoped ({@linkcode scopeLease}); the same array when none changed. */
export function scopeWrites(
  writes: readonly StoreWrite[],
  scope: LeaseScope,
): readonly StoreWrite[] {
  let changed = false;
  const out = writes.map((w) => {
    if (w.type !== "lease") return w;
    const lease = scopeLease(w.lease, scope);
    if (lease === w.lease) return w;
    changed = true;
    return { type: "lease" as const, lease };
  });
  return changed ? out : writes;
}

/** The engine's view: `get` answers from the lease index first (see the module doc). */
export class IndexedReads extends StoreView {
  readonly #index: LeaseIndex;
  /** @param inner the store @param index the server's in-memory lease index */
  constructor(inner: BindingStore, index: LeaseIndex) {
    super(inner);
    this.#index = index;
  }
  /**
   * The index holds every lease (loaded from the store at start, then every change of the
   * server and of the engine), so what it lacks the store lacks too. Addresses from the
   * wire decoder and the store are RFC 5952 text already.
   */
  override get(key: LeaseKey): Lease | undefined {
    return this.#index.get(key);
  }
  /**
   * Leases per pool, kind, owner and status from the index (pool balancing, §4.2.2): no
   * `GROUP BY` over the whole database on the datagram thread, and counting the newest
   * version of each lease, a commit still in flight included.
   */
  override countByPool(): PoolStatusCount[] {
    return this.#index.countByPoolOwner();
  }
  /**
   * The store's leases pending an update, each as its newest version (in the index), less
   * those whose newest version is no longer pending: an acknowledgement written lazily
   * (`ScopedCommitter`'s `deferrable`) reaches the store a little after the index, and an
   * answer to UPDREQ reads the store for seconds under flow control, through one read
   * snapshot. A lease that changed meanwhile (a client's renewal, an expiry) goes out as it is
   * now, never as the snapshot had it: an old ACTIVE sent after the newer EXPIRED could make
   * the partner hold a lease the client no longer has (docs/decisions.md P15).
   */
  override *needingUpdate(relationship?: string): IterableIterator<Lease> {
    for (const l of this.inner.needingUpdate(relationship)) {
      const newest = this.#index.get(l);
      if (newest === undefined) {
        yield l;
        continue;
      }
      if (!newest.updatePending) continue;
      yield newest;
    }
  }
  /** Every lease of the store (UPDREQALL), each as its newest version (in the index). */
  override *all(relationship?: string): IterableIterator<Lease> {
    for (const l of this.inner.all(relationship)) yield this.#index.get(l) ?? l;
  }
  /**
   * The store's page, each lease replaced by its newest version from the index and left out
   * when that no longer matches the query's status, owner or kind: a client transaction whose
   * commit is still in flight may have taken a FREE prefix the store still lists (pool
   * balancing must not hand it to the partner, §4.2.2).
   */
  override list(query?: LeaseQuery): LeasePage {
    const page = this.inner.list(query);
    const leases: Lease[] = [];
    for (const stored of page.leases) {
      const l = this.#index.get(stored);
      if (l === undefined) continue;
      const status = query?.status;
      if (typeof status === "string" ? l.status !== status : status?.includes(l.status) === false) {
        continue;
      }
      if (query?.owner !== undefined && l.owner !== query.owner) continue;
      if (query?.kind !== undefined && l.kind !== query.kind) continue;
      leases.push(l);
    }
    return { ...page, leases };
  }
}

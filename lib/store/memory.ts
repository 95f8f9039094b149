/**
 * An in-memory {@linkcode BindingStore} with the same behaviour as the SQLite one, for unit
 * tests of the server and the failover engine. Nothing survives the process.
 *
 * @module
 */

import {
  type CanonicalKey,
  canonicalKey,
  canonicalWrites,
  compareLeaseKeys,
  decodeCursor,
  dueTime,
  encodeCursor,
  normaliseDuid,
} from "./lease.ts";
import {
  type BindingStatus,
  type BindingStore,
  type EndpointStateRecord,
  type Lease,
  type LeaseKey,
  type LeasePage,
  type LeaseQuery,
  type PoolStatusCount,
  StoreError,
  type StoreWrite,
} from "./types.ts";

/** Rows per chunk when iterating. */
const CHUNK = 1000;

interface Row {
  key: CanonicalKey;
  lease: Lease;
}

function keyText(k: { kind: string; address: string; prefixLength: number }): string {
  return `${k.kind} ${k.address}/${k.prefixLength}`;
}

/** Clamps a page size to 1–10000, default 100. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return 100;
  if (!Number.isInteger(limit) || limit < 1) {
    throw new StoreError("invalid", `page limit must be a positive integer, got ${limit}`);
  }
  return Math.min(limit, 10_000);
}

/** Builds the row filter of a {@linkcode LeaseQuery}. */
function matcher(q: LeaseQuery): (l: Lease) => boolean {
  const statuses: readonly BindingStatus[] | undefined = q.status === undefined
    ? undefined
    : typeof q.status === "string"
    ? [q.status]
    : q.status;
  let duid: string | undefined;
  if (q.clientDuid !== undefined) {
    duid = normaliseDuid(q.clientDuid);
    if (duid === undefined) throw new StoreError("invalid", `not a DUID: ${q.clientDuid}`);
  }
  return (l) =>
    (q.kind === undefined || l.kind === q.kind) &&
    (statuses === undefined || statuses.includes(l.status)) &&
    (duid === undefined || l.clientDuid === duid) &&
    (q.relationship === undefined || l.relationship === q.relationship) &&
    (q.pool === undefined || l.pool === q.pool) &&
    (q.owner === undefined || l.owner === q.owner);
}

/**
 * A {@linkcode BindingStore} kept in process memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyLease, MemoryBindingStore } from "@failover6/failover6";
 *
 * const store = new MemoryBindingStore();
 * store.upsert([{ ...emptyLease({ kind: "pd", address: "2001:db8:f0::", prefixLength: 56 }) }]);
 * assert.equal(store.get({ kind: "pd", address: "2001:db8:f0::", prefixLength: 56 })?.status, "FREE");
 * assert.equal(store.commits, 1);
 * ```
 */
export class MemoryBindingStore implements BindingStore {
  #rows = new Map<string, Row>();
  /** Rows in address order (kept sorted on insert). */
  #sorted: Row[] = [];
  #endpoints = new Map<string, EndpointStateRecord>();
  #duid: string | undefined;
  #closed = false;
  #commits = 0;

  /** Number of committed transactions. */
  get commits(): number {
    return this.#commits;
  }

  #open(): void {
    if (this.#closed) throw new StoreError("closed", "the binding store is closed");
  }

  /** Index of the first row whose key is greater than `k` (or equal, when `inclusive`). */
  #lowerBound(k: CanonicalKey, inclusive: boolean): number {
    let lo = 0, hi = this.#sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareLeaseKeys(this.#sorted[mid].key, k);
      if (c < 0 || (!inclusive && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get(key: LeaseKey): Lease | undefined {
    this.#open();
    const k = canonicalKey(key);
    const row = this.#rows.get(keyText(k));
    return row ? { ...row.lease } : undefined;
  }

  getByClient(clientDuid: string, iaid?: number): Lease[] {
    this.#open();
    const duid = normaliseDuid(clientDuid);
    if (duid === undefined || duid === "") return [];
    return this.#sorted.filter((r) =>
      r.lease.clientDuid === duid && (iaid === undefined || r.lease.iaid === iaid)
    ).map((r) => ({ ...r.lease }));
  }

  list(query: LeaseQuery = {}): LeasePage {
    this.#open();
    const limit = pageLimit(query.limit);
    const match = matcher(query);
    let i = query.after === undefined ? 0 : this.#lowerBound(decodeCursor(query.after), false);
    const leases: Lease[] = [];
    for (; i < this.#sorted.length && leases.length < limit; i++) {
      if (match(this.#sorted[i].lease)) leases.push({ ...this.#sorted[i].lease });
    }
    let more = false;
    for (; i < this.#sorted.length; i++) {
      if (match(this.#sorted[i].lease)) {
        more = true;
        break;
      }
    }
    return more ? { leases, next: encodeCursor(leases[leases.length - 1]) } : { leases };
  }

  *#iterate(query: LeaseQuery): IterableIterator<Lease> {
    let after: string | undefined;
    do {
      const page = this.list({ ...query, after, limit: CHUNK });
      yield* page.leases;
      after = page.next;
    } while (after !== undefined);
  }

  needingUpdate(relationship?: string): IterableIterator<Lease> {
    this.#open();
    const inner = this.#iterate({ relationship });
    function* filter(): IterableIterator<Lease> {
      for (const l of inner) if (l.updatePending || l.ackPending) yield l;
    }
    return filter();
  }

  all(relationship?: string): IterableIterator<Lease> {
    this.#open();
    return this.#iterate({ relationship });
  }

  count(): number {
    this.#open();
    return this.#rows.size;
  }

  countByPool(): PoolStatusCount[] {
    this.#open();
    const counts = new Map<string, PoolStatusCount>();
    for (const { lease } of this.#sorted) {
      const k = `${lease.pool}\u0000${lease.kind}\u0000${lease.owner}\u0000${lease.status}`;
      const c = counts.get(k);
      if (c) c.count++;
      else {
        counts.set(k, {
          pool: lease.pool,
          kind: lease.kind,
          owner: lease.owner,
          status: lease.status,
          count: 1,
        });
      }
    }
    return [...counts.values()].sort((a, b) =>
      a.pool < b.pool
        ? -1
        : a.pool > b.pool
        ? 1
        : a.kind < b.kind
        ? -1
        : a.kind > b.kind
        ? 1
        : a.owner < b.owner
        ? -1
        : a.owner > b.owner
        ? 1
        : a.status < b.status
        ? -1
        : a.status > b.status
        ? 1
        : 0
    );
  }

  nextExpiry(): number | undefined {
    this.#open();
    let best: number | undefined;
    for (const { lease } of this.#sorted) {
      const d = dueTime(lease);
      if (d > 0 && (best === undefined || d < best)) best = d;
    }
    return best;
  }

  dueBy(time: number, limit = 1000): Lease[] {
    this.#open();
    const n = pageLimit(limit);
    return this.#sorted
      .filter((r) => {
        const d = dueTime(r.lease);
        return d > 0 && d <= time;
      })
      .sort((a, b) => dueTime(a.lease) - dueTime(b.lease) || compareLeaseKeys(a.key, b.key))
      .slice(0, n)
      .map((r) => ({ ...r.lease }));
  }

  getEndpointState(relationship: string): EndpointStateRecord | undefined {
    this.#open();
    const r = this.#endpoints.get(relationship);
    return r ? { ...r } : undefined;
  }

  listEndpointStates(): EndpointStateRecord[] {
    this.#open();
    return [...this.#endpoints.values()].sort((a, b) =>
      a.relationship < b.relationship ? -1 : a.relationship > b.relationship ? 1 : 0
    ).map((r) => ({ ...r }));
  }

  getServerDuid(): string | undefined {
    this.#open();
    return this.#duid;
  }

  apply(writes: readonly StoreWrite[]): void {
    this.#open();
    const ws = canonicalWrites(writes); // validates everything before changing anything
    if (ws.length === 0) return;
    for (const w of ws) {
      switch (w.type) {
        case "lease": {
          const key = canonicalKey(w.lease);
          const text = keyText(key);
          const row = this.#rows.get(text);
          if (row) row.lease = w.lease;
          else {
            const fresh = { key, lease: w.lease };
            this.#rows.set(text, fresh);
            this.#sorted.splice(this.#lowerBound(key, true), 0, fresh);
          }
          break;
        }
        case "delete-lease": {
          const key = canonicalKey(w.key);
          const text = keyText(key);
          if (this.#rows.delete(text)) this.#sorted.splice(this.#lowerBound(key, true), 1);
          break;
        }
        case "endpoint-state":
          this.#endpoints.set(w.record.relationship, w.record);
          break;
        case "server-duid":
          this.#duid = w.duid;
          break;
      }
    }
    this.#commits++;
  }

  upsert(leases: readonly Lease[]): void {
    this.apply(leases.map((lease) => ({ type: "lease", lease })));
  }

  close(): void {
    this.#closed = true;
  }
}

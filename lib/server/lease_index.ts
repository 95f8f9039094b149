/**
 * An in-memory index of every lease: the {@linkcode LeaseView} the shell hands the handler.
 * It is loaded once from the store and changed synchronously with each handler result, so a
 * lease handed out is visible to the next packet even before its grouped commit finishes;
 * {@linkcode LeaseIndex.revert} undoes changes whose commit failed. It also keeps the per-pool
 * occupancy (for "pool full" without a scan), the leases per pool and status (for pool
 * figures and status documents without a database scan: `GROUP BY` over 150k rows takes
 * 0.3–0.6 s, a stall the sockets cannot absorb) and per pool, kind, owner and status (for
 * the failover engine's pool balancing, likewise), and a heap of due times for expiry.
 *
 * Few objects per lease, because the garbage collector's pauses on the main thread grow with
 * them (and a pause longer than the socket's receive buffer lasts drops datagrams): a client
 * with one lease maps straight to that lease's key (a set only for several), and the due
 * heap is two parallel arrays (due times, keys) rather than an object per entry.
 *
 * @module
 */

import { dueTime } from "../store/lease.ts";
import type {
  BindingStatus,
  Lease,
  LeaseKey,
  LeaseKind,
  PoolOwner,
  PoolStatusCount,
} from "../store/types.ts";
import { canonicalIPv6 } from "../util/ipv6.ts";
import { leaseKeyText } from "./allocate.ts";
import type { LeaseChange, LeaseView } from "./types.ts";

/** Leases of one pool in one binding status, as {@linkcode LeaseIndex.countByPool} gives them. */
export interface PoolStatusTally {
  /** Pool name (`""` for leases outside any configured pool). */
  pool: string;
  /** Binding status. */
  status: BindingStatus;
  /** Leases. */
  count: number;
}

/** Lower-case hexadecimal digits only (what `getByClient` would normalise text to). */
function isCanonicalHex(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

const POOL_OWNERS: readonly PoolOwner[] = ["primary", "secondary", "none"];

/** The in-memory lease index (see the module doc). */
export class LeaseIndex implements LeaseView {
  #byKey = new Map<string, Lease>();
  /** Client DUID -> the key of its one lease, or the keys of its several leases. */
  #byClient = new Map<string, string | Set<string>>();
  /** Pool -> binding status -> leases. */
  #tally = new Map<string, Map<BindingStatus, number>>();
  /** Pool, kind, owner and status (joined by NUL) -> their tally row. */
  #ownerTally = new Map<string, PoolStatusCount>();
  /** Leases with an update pending for the partner, per relationship. */
  #pendingTally = new Map<string, number>();
  /** Due heap: `#dueAt[i]` is the due time of the lease at key `#dueKey[i]`. */
  #dueAt: number[] = [];
  #dueKey: string[] = [];

  /** An index holding `leases` (e.g. `store.all()`). */
  static from(leases: Iterable<Lease>): LeaseIndex {
    const ix = new LeaseIndex();
    for (const l of leases) ix.#set(l);
    return ix;
  }

  /** Number of leases held. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Every lease, in no particular order. */
  values(): IterableIterator<Lease> {
    return this.#byKey.values();
  }

  /**
   * The lease at `key`. The address must be canonical RFC 5952 text (as the handler and the
   * store always write it); use {@linkcode LeaseIndex.lookup} for text typed by people.
   */
  get(key: LeaseKey): Lease | undefined {
    return this.#byKey.get(leaseKeyText(key.kind, key.address, key.prefixLength ?? 128));
  }

  /** Like {@linkcode LeaseIndex.get} for any IPv6 text (`2001:DB8:0::1`). */
  lookup(key: LeaseKey): Lease | undefined {
    const canonical = canonicalIPv6(key.address);
    return canonical === undefined ? undefined : this.get({ ...key, address: canonical });
  }

  getByClient(clientDuid: string): Lease[] {
    const keys = this.#byClient.get(clientDuid) ??
      (isCanonicalHex(clientDuid)
        ? undefined
        : this.#byClient.get(clientDuid.replace(/[:-]/g, "").toLowerCase()));
    if (keys === undefined) return [];
    if (typeof keys === "string") {
      const l = this.#byKey.get(keys);
      return l === undefined ? [] : [l];
    }
    const out: Lease[] = [];
    for (const k of keys) {
      const l = this.#byKey.get(k);
      if (l !== undefined) out.push(l);
    }
    return out;
  }

  /** Leases of a pool and kind with `status` (and `owner`, when given), from memory. */
  poolCount(pool: string, kind: LeaseKind, status: BindingStatus, owner?: PoolOwner): number {
    if (owner !== undefined) {
      return this.#ownerTally.get(`${pool}\0${kind}\0${owner}\0${status}`)?.count ?? 0;
    }
    let n = 0;
    for (const o of POOL_OWNERS) {
      n += this.#ownerTally.get(`${pool}\0${kind}\0${o}\0${status}`)?.count ?? 0;
    }
    return n;
  }

  poolOccupancy(pool: string): number {
    const t = this.#tally.get(pool);
    return t === undefined ? 0 : (t.get("ACTIVE") ?? 0) + (t.get("ABANDONED") ?? 0);
  }

  /**
   * Leases per pool and binding status (statuses with none left out), from memory. Counts
   * changes whose grouped commit is still under way (as every read of the index does).
   */
  countByPool(): PoolStatusTally[] {
    const out: PoolStatusTally[] = [];
    for (const [pool, t] of this.#tally) {
      for (const [status, count] of t) out.push({ pool, status, count });
    }
    return out;
  }

  /**
   * Leases per pool, kind, owner and binding status (none left out), from memory: what
   * `BindingStore.countByPool` answers from the database, in the same order (pool, kind,
   * owner, status), without reading every lease. Pool balancing (§4.2.2) counts with it.
   */
  countByPoolOwner(): PoolStatusCount[] {
    const out = [...this.#ownerTally.values()].map((r) => ({ ...r }));
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    return out.sort((a, b) =>
      cmp(a.pool, b.pool) || cmp(a.kind, b.kind) || cmp(a.owner, b.owner) ||
      cmp(a.status, b.status)
    );
  }

  /**
   * Leases of `relationship` whose newest version has an update pending for the partner (a
   * commit still under way included), from memory: what the control API reports as pending,
   * without reading the database (thousands of rows after a long communications break).
   */
  pendingUpdates(relationship: string): number {
    return this.#pendingTally.get(relationship) ?? 0;
  }

  #count(lease: Lease, delta: 1 | -1): void {
    if (lease.updatePending) {
      const p = (this.#pendingTally.get(lease.relationship) ?? 0) + delta;
      if (p > 0) this.#pendingTally.set(lease.relationship, p);
      else this.#pendingTally.delete(lease.relationship);
    }
    const k = `${lease.pool}\0${lease.kind}\0${lease.owner}\0${lease.status}`;
    const row = this.#ownerTally.get(k);
    if (row === undefined) {
      if (delta > 0) {
        this.#ownerTally.set(k, {
          pool: lease.pool,
          kind: lease.kind,
          owner: lease.owner,
          status: lease.status,
          count: 1,
        });
      }
    } else if ((row.count += delta) <= 0) this.#ownerTally.delete(k);
    let t = this.#tally.get(lease.pool);
    if (t === undefined) this.#tally.set(lease.pool, t = new Map());
    const n = (t.get(lease.status) ?? 0) + delta;
    if (n > 0) t.set(lease.status, n);
    else {
      t.delete(lease.status);
      if (t.size === 0) this.#tally.delete(lease.pool);
    }
  }

  /** Makes every `after` current (in order). Call right after the handler returns. */
  apply(changes: readonly LeaseChange[]): void {
    for (const c of changes) this.#set(c.after);
  }

  /**
   * Undoes `changes` (in reverse order) whose commit failed: each key goes back to its
   * `before` (or disappears), unless a later change has replaced the lease since.
   */
  revert(changes: readonly LeaseChange[]): void {
    for (let i = changes.length - 1; i >= 0; i--) {
      const c = changes[i];
      const key = leaseKeyText(c.after.kind, c.after.address, c.after.prefixLength);
      if (this.#byKey.get(key) !== c.after) continue;
      if (c.before !== undefined) this.#set(c.before);
      else this.#delete(key);
    }
  }

  /** The earliest due time of a lease (see `dueTime` in lib/store), `undefined` if none. */
  nextDue(): number | undefined {
    while (this.#dueAt.length > 0) {
      const due = this.#dueAt[0];
      if (this.#isCurrent(due, this.#dueKey[0])) return due;
      this.#pop();
    }
    return undefined;
  }

  /**
   * Takes the leases due at or before `now` off the due heap, earliest first, at most
   * `limit`. Each lease comes at most once per call and again only after a later change
   * gives it a new due time.
   */
  takeDue(now: number, limit = 1000): Lease[] {
    const out: Lease[] = [];
    const seen = new Set<string>();
    while (out.length < limit && this.#dueAt.length > 0 && this.#dueAt[0] <= now) {
      const due = this.#dueAt[0];
      const key = this.#pop();
      if (!this.#isCurrent(due, key) || seen.has(key)) continue;
      seen.add(key);
      out.push(this.#byKey.get(key)!);
    }
    return out;
  }

  #isCurrent(due: number, key: string): boolean {
    const l = this.#byKey.get(key);
    return l !== undefined && dueTime(l) === due;
  }

  #set(lease: Lease): void {
    const key = leaseKeyText(lease.kind, lease.address, lease.prefixLength);
    const old = this.#byKey.get(key);
    if (old !== undefined) this.#unlink(key, old);
    this.#byKey.set(key, lease);
    if (lease.clientDuid !== "") {
      const keys = this.#byClient.get(lease.clientDuid);
      if (keys === undefined) this.#byClient.set(lease.clientDuid, key);
      else if (typeof keys !== "string") keys.add(key);
      else if (keys !== key) this.#byClient.set(lease.clientDuid, new Set([keys, key]));
    }
    this.#count(lease, 1);
    const due = dueTime(lease);
    if (due > 0 && (old === undefined || dueTime(old) !== due)) this.#push(due, key);
  }

  #delete(key: string): void {
    const old = this.#byKey.get(key);
    if (old === undefined) return;
    this.#unlink(key, old);
    this.#byKey.delete(key);
  }

  #unlink(key: string, old: Lease): void {
    if (old.clientDuid !== "") {
      const keys = this.#byClient.get(old.clientDuid);
      if (keys === key) this.#byClient.delete(old.clientDuid);
      else if (keys !== undefined && typeof keys !== "string" && keys.delete(key)) {
        if (keys.size === 1) this.#byClient.set(old.clientDuid, keys.values().next().value!);
      }
    }
    this.#count(old, -1);
  }

  #push(due: number, key: string): void {
    const at = this.#dueAt;
    const keys = this.#dueKey;
    let i = at.length;
    at.push(due);
    keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (at[parent] <= due) break;
      at[i] = at[parent];
      keys[i] = keys[parent];
      i = parent;
    }
    at[i] = due;
    keys[i] = key;
  }

  /** Removes the top of the due heap and returns its key. */
  #pop(): string {
    const at = this.#dueAt;
    const keys = this.#dueKey;
    const top = keys[0];
    const lastAt = at.pop()!;
    const lastKey = keys.pop()!;
    const n = at.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && at[r] < at[l] ? r : l;
        if (at[c] >= lastAt) break;
        at[i] = at[c];
        keys[i] = keys[c];
        i = c;
      }
      at[i] = lastAt;
      keys[i] = lastKey;
    }
    return top;
  }
}

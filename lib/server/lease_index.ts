/**
 * An in-memory index of every lease: the {@linkcode LeaseView} the shell hands the handler.
 * It is loaded once from the store and changed synchronously with each handler result, so a
 * lease handed out is visible to the next packet even before its grouped commit finishes;
 * {@linkcode LeaseIndex.revert} undoes changes whose commit failed. It also keeps the per-pool
 * occupancy (for "pool full" without a scan) and a heap of due times for expiry.
 *
 * @module
 */

import { dueTime } from "../store/lease.ts";
import type { Lease, LeaseKey } from "../store/types.ts";
import { canonicalIPv6 } from "../util/ipv6.ts";
import { leaseKeyText } from "./allocate.ts";
import type { LeaseChange, LeaseView } from "./types.ts";

interface DueEntry {
  due: number;
  key: string;
}

/** Statuses that count as occupied in {@linkcode LeaseIndex.poolOccupancy}. */
function occupies(l: Lease): boolean {
  return l.status === "ACTIVE" || l.status === "ABANDONED";
}

/** Lower-case hexadecimal digits only (what `getByClient` would normalise text to). */
function isCanonicalHex(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** The in-memory lease index (see the module doc). */
export class LeaseIndex implements LeaseView {
  #byKey = new Map<string, Lease>();
  #byClient = new Map<string, Set<string>>();
  #occupancy = new Map<string, number>();
  #heap: DueEntry[] = [];

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
    const out: Lease[] = [];
    for (const k of keys) {
      const l = this.#byKey.get(k);
      if (l !== undefined) out.push(l);
    }
    return out;
  }

  poolOccupancy(pool: string): number {
    return this.#occupancy.get(pool) ?? 0;
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
    while (this.#heap.length > 0) {
      const top = this.#heap[0];
      if (this.#isCurrent(top)) return top.due;
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
    while (out.length < limit && this.#heap.length > 0 && this.#heap[0].due <= now) {
      const e = this.#pop();
      if (!this.#isCurrent(e) || seen.has(e.key)) continue;
      seen.add(e.key);
      out.push(this.#byKey.get(e.key)!);
    }
    return out;
  }

  #isCurrent(e: DueEntry): boolean {
    const l = this.#byKey.get(e.key);
    return l !== undefined && dueTime(l) === e.due;
  }

  #set(lease: Lease): void {
    const key = leaseKeyText(lease.kind, lease.address, lease.prefixLength);
    const old = this.#byKey.get(key);
    if (old !== undefined) this.#unlink(key, old);
    this.#byKey.set(key, lease);
    if (lease.clientDuid !== "") {
      let set = this.#byClient.get(lease.clientDuid);
      if (set === undefined) this.#byClient.set(lease.clientDuid, set = new Set());
      set.add(key);
    }
    if (occupies(lease)) this.#occupancy.set(lease.pool, this.poolOccupancy(lease.pool) + 1);
    const due = dueTime(lease);
    if (due > 0 && (old === undefined || dueTime(old) !== due)) this.#push({ due, key });
  }

  #delete(key: string): void {
    const old = this.#byKey.get(key);
    if (old === undefined) return;
    this.#unlink(key, old);
    this.#byKey.delete(key);
  }

  #unlink(key: string, old: Lease): void {
    if (old.clientDuid !== "") {
      const set = this.#byClient.get(old.clientDuid);
      set?.delete(key);
      if (set?.size === 0) this.#byClient.delete(old.clientDuid);
    }
    if (occupies(old)) {
      const n = this.poolOccupancy(old.pool) - 1;
      if (n > 0) this.#occupancy.set(old.pool, n);
      else this.#occupancy.delete(old.pool);
    }
  }

  #push(e: DueEntry): void {
    const h = this.#heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent].due <= e.due) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = e;
  }

  #pop(): DueEntry {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && h[r].due < h[l].due ? r : l;
        if (h[c].due >= last.due) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

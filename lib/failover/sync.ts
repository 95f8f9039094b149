/**
 * Binding-update bookkeeping of the engine (RFC 8156 §5.3.5–§5.3.7, §5.5.5, §8.8): the sync
 * jobs that stream leases out as BNDUPDs (answering UPDREQ/UPDREQALL, flushing on entering
 * NORMAL, periodic scans, pool rebalancing), the outstanding-BNDUPD table used for flow
 * control and for UPDDONE ("only after every BNDREPLY"), and the fingerprint that tells
 * whether an acknowledged BNDUPD still describes the lease. Plain data and pure helpers.
 *
 * @module
 */

import type { Lease, PoolOwner } from "../store/types.ts";
import type { BindingSource } from "./types.ts";
import type { BindingStatus } from "./binding.ts";
import { statusHasTimeout, toWireTime } from "./binding.ts";

/** Why leases are being streamed to the partner. */
export type SyncJobKind =
  /** Answering an UPDREQ: every lease the partner has not confirmed; UPDDONE at the end. */
  | "updreq"
  /** Answering an UPDREQALL: every lease; UPDDONE at the end. */
  | "updreqall"
  /** Entering NORMAL: send every unacknowledged update (§8.8); a secondary then sends POOLREQ. */
  | "flush"
  /** Periodic scan for updates still needed (damped ones included, §7.5.4). */
  | "scan"
  /** Primary: read the pool counts to plan a rebalance (§4.2.2). */
  | "pool-count"
  /** Primary: hand FREE prefixes to the secondary as FREE-BACKUP. */
  | "pool-give"
  /** Primary: take FREE-BACKUP prefixes back as FREE. */
  | "pool-take";

/** One sync job. Jobs run one at a time, first in first out. */
export interface SyncJob {
  /** Job id. */
  id: number;
  /** What the job is for. */
  kind: SyncJobKind;
  /** Transaction-id of the UPDREQ/UPDREQALL being answered. */
  xid?: number;
  /** Where the leases come from. */
  source: BindingSource;
  /** Stream id of the shell's reader, once opened. */
  stream?: number;
  /** A `read-bindings` is outstanding. */
  reading: boolean;
  /** The source has no more leases. */
  exhausted: boolean;
  /** Leases of this job waiting in the queue. */
  queued: number;
  /** BNDUPDs of this job sent and not yet answered. */
  inflight: number;
  /** BNDUPDs of this job sent so far. */
  sent: number;
}

/** A lease waiting to go out as a BNDUPD. */
export interface QueuedLease {
  /** The lease to send. */
  lease: Lease;
  /** The job it belongs to; 0 for an immediate update (lease change, damping). */
  job: number;
}

/** What a BNDUPD said about one lease, to compare with the lease when the BNDREPLY arrives. */
export interface Fingerprint {
  /** Binding status sent. */
  status: BindingStatus;
  /** Client DUID sent (lower-case hex). */
  clientDuid: string;
  /** Wire seconds (0 when absent). */
  stateExpirationTime: number;
  /** Partner lifetime sent, wire seconds (0 when absent). */
  partnerLifetime: number;
}

/** A BNDUPD sent and not yet answered. */
export interface OutstandingBndupd {
  /** Transaction-id of the BNDUPD. */
  xid: number;
  /** The lease key text (`na 2001:db8::1/128`). */
  key: string;
  /** What was sent. */
  sent: Fingerprint;
  /** The job, 0 for none. */
  job: number;
  /** Changes to make to the lease once acknowledged (pool take-back). */
  onAck?: { status: BindingStatus; owner: PoolOwner };
  /**
   * The lease as it was when sent: used for the BNDREPLY when the shell supplies no current
   * record (it skips the lookup when the acknowledgement would change nothing, see
   * `lookupKeys` in `engine.ts`).
   */
  lease: Lease;
  /** When it was sent (ms). */
  at: number;
}

/** Our outstanding UPDREQ / UPDREQALL (§5.4: its id is not reused until UPDDONE). */
export interface UpdateRequest {
  /** Transaction-id of the request. */
  xid: number;
  /** Which request. */
  kind: "UPDREQ" | "UPDREQALL";
  /** When sent (ms). */
  at: number;
  /** Last sign of progress: the request, or a BNDUPD received since (ms). */
  progress: number;
}

/** The fingerprint of what a BNDUPD for `lease` carries (see `bndupdOptions`). */
export function fingerprint(lease: Lease): Fingerprint {
  const timeout = statusHasTimeout(lease.status);
  return {
    status: lease.status,
    clientDuid: lease.clientDuid,
    stateExpirationTime: timeout
      ? toWireTime(lease.stateExpirationTime || lease.expirationTime)
      : 0,
    partnerLifetime: timeout
      ? toWireTime(lease.partnerLifetime || lease.ackedPartnerLifetime || lease.expirationTime)
      : 0,
  };
}

/** True when the lease still says what the acknowledged BNDUPD said. */
export function sameFingerprint(a: Fingerprint, b: Fingerprint): boolean {
  return a.status === b.status && a.clientDuid === b.clientDuid &&
    a.stateExpirationTime === b.stateExpirationTime && a.partnerLifetime === b.partnerLifetime;
}

/** The lease source of a job kind (pool jobs get theirs from the rebalance plan). */
export function sourceOf(kind: SyncJobKind): BindingSource {
  switch (kind) {
    case "updreqall":
      return { kind: "all" };
    case "pool-count":
      return { kind: "pool-counts" };
    default:
      return { kind: "pending" };
  }
}

/** A job is complete when its source is exhausted and none of its BNDUPDs are queued or unanswered. */
export function jobComplete(job: SyncJob): boolean {
  return job.exhausted && !job.reading && job.queued === 0 && job.inflight === 0;
}

/** A new job. */
export function newJob(
  id: number,
  kind: SyncJobKind,
  extra: { xid?: number; source?: BindingSource } = {},
): SyncJob {
  return {
    id,
    kind,
    xid: extra.xid,
    source: extra.source ?? sourceOf(kind),
    reading: false,
    exhausted: false,
    queued: 0,
    inflight: 0,
    sent: 0,
  };
}

// ---------------------------------------------------------------------------------------
// The outstanding-BNDUPD tables: persistent maps
// ---------------------------------------------------------------------------------------

const ABSENT: unique symbol = Symbol("absent");

type Version<K, V> =
  /** The current version: it holds the map. */
  | { root: true; map: Map<K, V> }
  /** An older (or other) version: `next` with each key of `changes` set to its value. */
  | { root: false; changes: [K, V | typeof ABSENT][]; next: VersionedMap<K, V> };

/**
 * A persistent map for the engine's tables (the BNDUPDs outstanding, by transaction-id, and
 * their leases): every {@linkcode VersionedMap.edit} gives a new version and leaves this one
 * as it was, yet costs only the changes made — not a copy of the table, which with a window
 * of thousands of unanswered BNDUPDs would cost more than the step itself. The newest
 * version holds the one `Map`; older versions are the changes that lead to it and are
 * brought back (the map rolled back, in place) when read again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VersionedMap } from "./sync.ts";
 *
 * const v1 = VersionedMap.of([[1, "a"]]);
 * const draft = v1.edit();
 * draft.set(2, "b");
 * draft.delete(1);
 * const v2 = draft.commit();
 * assert.deepEqual([...v2], [[2, "b"]]);
 * assert.deepEqual([...v1], [[1, "a"]]); // unchanged
 * ```
 */
export class VersionedMap<K, V> implements ReadonlyMap<K, V> {
  #version: Version<K, V>;

  private constructor(version: Version<K, V>) {
    this.#version = version;
  }

  /** A map with `entries`. */
  static of<K, V>(entries: Iterable<readonly [K, V]> = []): VersionedMap<K, V> {
    return new VersionedMap<K, V>({ root: true, map: new Map(entries) });
  }

  /** `map` itself when it is one, else a versioned copy of it. */
  static from<K, V>(map: ReadonlyMap<K, V>): VersionedMap<K, V> {
    return map instanceof VersionedMap ? map : VersionedMap.of(map);
  }

  /** Makes this version the current one and returns its map (not to be changed). */
  #current(): Map<K, V> {
    return this.#version.root ? this.#version.map : VersionedMap.#reroot(this);
  }

  /** Rolls the map back (or forward) along the changes from the current version to `start`. */
  static #reroot<K, V>(start: VersionedMap<K, V>): Map<K, V> {
    const path: VersionedMap<K, V>[] = [];
    let v = start;
    while (!v.#version.root) {
      path.push(v);
      v = v.#version.next;
    }
    const map = v.#version.map;
    let root = v;
    for (let i = path.length - 1; i >= 0; i--) {
      const p = path[i];
      const step = p.#version as Extract<Version<K, V>, { root: false }>;
      const undo: [K, V | typeof ABSENT][] = new Array(step.changes.length);
      for (let j = step.changes.length - 1; j >= 0; j--) {
        const [k, value] = step.changes[j];
        undo[j] = [k, map.has(k) ? map.get(k)! : ABSENT];
        if (value === ABSENT) map.delete(k);
        else map.set(k, value);
      }
      root.#version = { root: false, changes: undo, next: p };
      p.#version = { root: true, map };
      root = p;
    }
    return map;
  }

  /** Starts a new version from this one; see {@linkcode VersionedMapDraft}. */
  edit(): VersionedMapDraft<K, V> {
    return new VersionedMapDraft(this, this.#current(), (next, changes) => {
      // This version becomes "the new one with these keys as they were".
      this.#version = { root: false, changes, next };
    }, (map) => new VersionedMap<K, V>({ root: true, map }));
  }

  get size(): number {
    return this.#current().size;
  }
  get(key: K): V | undefined {
    return this.#current().get(key);
  }
  has(key: K): boolean {
    return this.#current().has(key);
  }
  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of [...this.#current()]) fn.call(thisArg, v, k, this);
  }
  entries(): MapIterator<[K, V]> {
    return [...this.#current().entries()][Symbol.iterator]();
  }
  keys(): MapIterator<K> {
    return [...this.#current().keys()][Symbol.iterator]();
  }
  values(): MapIterator<V> {
    return [...this.#current().values()][Symbol.iterator]();
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
  get [Symbol.toStringTag](): string {
    return "VersionedMap";
  }
}

/**
 * The changes of one new version of a {@linkcode VersionedMap}, made in place on the current
 * map (reads see them at once) and recorded so that the version it started from can be
 * brought back: {@linkcode commit} returns the new version, {@linkcode abort} undoes them.
 * Use one draft at a time, and commit or abort it before reading other versions.
 */
export class VersionedMapDraft<K, V> {
  readonly #base: VersionedMap<K, V>;
  #map: Map<K, V>;
  /** The previous value of each key changed (first change only). */
  #undo = new Map<K, V | typeof ABSENT>();
  /** The base's map was left behind by `clear` (the draft has a map of its own). */
  #detached = false;
  #changed = false;
  #done = false;
  readonly #retire: (next: VersionedMap<K, V>, changes: [K, V | typeof ABSENT][]) => void;
  readonly #make: (map: Map<K, V>) => VersionedMap<K, V>;

  /** Made by {@linkcode VersionedMap.edit}. */
  constructor(
    base: VersionedMap<K, V>,
    map: Map<K, V>,
    retire: (next: VersionedMap<K, V>, changes: [K, V | typeof ABSENT][]) => void,
    make: (map: Map<K, V>) => VersionedMap<K, V>,
  ) {
    this.#base = base;
    this.#map = map;
    this.#retire = retire;
    this.#make = make;
  }

  get size(): number {
    return this.#map.size;
  }
  get(key: K): V | undefined {
    return this.#map.get(key);
  }
  has(key: K): boolean {
    return this.#map.has(key);
  }
  /** The values now (do not edit the draft while iterating). */
  values(): MapIterator<V> {
    return this.#map.values();
  }
  #record(key: K): void {
    this.#changed = true;
    if (this.#detached || this.#undo.has(key)) return;
    this.#undo.set(key, this.#map.has(key) ? this.#map.get(key)! : ABSENT);
  }
  set(key: K, value: V): this {
    this.#record(key);
    this.#map.set(key, value);
    return this;
  }
  delete(key: K): boolean {
    if (!this.#map.has(key)) return false;
    this.#record(key);
    return this.#map.delete(key);
  }
  clear(): void {
    if (this.#map.size === 0) return;
    this.#rollBack();
    this.#map = new Map();
    this.#detached = true;
    this.#changed = true;
  }
  /** Puts the base's map back as it was (when it is still the draft's). */
  #rollBack(): void {
    if (this.#detached) return;
    for (const [k, v] of this.#undo) {
      if (v === ABSENT) this.#map.delete(k);
      else this.#map.set(k, v);
    }
    this.#undo.clear();
  }
  /** The new version (the base itself when nothing changed). */
  commit(): VersionedMap<K, V> {
    if (this.#done) throw new Error("VersionedMapDraft: already committed or aborted");
    this.#done = true;
    if (!this.#changed) return this.#base;
    const next = this.#make(this.#map);
    if (!this.#detached) this.#retire(next, [...this.#undo]);
    return next;
  }
  /** Undoes the changes: the base is as it was. */
  abort(): void {
    if (this.#done) return;
    this.#done = true;
    this.#rollBack();
  }
}

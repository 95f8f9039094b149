/**
 * The seam between the DHCPv6 core and failover (issue 6): a {@linkcode FailoverPolicy} says
 * whether a message may be answered at all in the current endpoint state, whether a lease
 * may go to a client, which lifetimes a client may get (MCLT caps), how a granted lease is
 * stamped for the partner, and what expiry does. {@linkcode standalonePolicy} is the
 * no-partner behaviour: serve everything, lifetimes as configured.
 *
 * @module
 */

import type { BindingStatus, Lease, LeaseKind, PoolOwner } from "../store/types.ts";

/** What the policy is asked before any processing of a client message. */
export interface AdmitQuery {
  /** Client message type (SOLICIT, REQUEST, …). */
  msgType: number;
  /** True when the message carries a Server Identifier and it is ours. */
  serverIdIsOurs: boolean;
  /** Name of the selected subnet, if any. */
  subnet?: string;
  /** Failover relationship of that subnet, `null`/absent when none. */
  relationship?: string | null;
}

/** A candidate for allocation: an address or delegated prefix and what the view holds for it. */
export interface Candidate {
  /** `na` or `pd`. */
  kind: LeaseKind;
  /** The address or first address of the prefix. */
  address: bigint;
  /** 128 for an address. */
  prefixLength: number;
  /** Pool the candidate comes from (`""` for a reservation outside pools). */
  pool: string;
  /** Relationship of the subnet, `null` when none. */
  relationship: string | null;
  /** The stored lease, when there is one. */
  existing?: Lease;
}

/** Lifetimes a client would get, and the context to cap them. */
export interface LifetimeQuery {
  /** `na` or `pd`. */
  kind: LeaseKind;
  /** Configured preferred lifetime, seconds. */
  preferred: number;
  /** Configured valid lifetime, seconds. */
  valid: number;
  /** The lease before this grant (absent for a fresh address). */
  before?: Lease;
  /** Relationship of the subnet, `null` when none. */
  relationship: string | null;
  /** Now, ms. */
  now: number;
}

/**
 * Failover gating of the core. Every method must be pure (no I/O); the engine of issue 6
 * implements it over its current endpoint state.
 */
export interface FailoverPolicy {
  /** A short name for logs and tests. */
  readonly name: string;
  /** Whether the server may answer this message at all (responsive / renew-responsive / unresponsive). */
  admits(query: AdmitQuery): boolean;
  /**
   * Whether `candidate` may be given to client `clientDuid` now. Called for leases not already
   * ACTIVE for this client; ACTIVE leases of other clients and ABANDONED ones never get here.
   */
  mayAllocate(candidate: Candidate, clientDuid: string, now: number): boolean;
  /** The preferred and valid lifetimes to grant (MCLT caps in failover). */
  lifetimes(query: LifetimeQuery): { preferred: number; valid: number };
  /** Final touches on a lease about to be committed (e.g. `updatePending`, `owner`). */
  stamp(after: Lease, before: Lease | undefined, now: number): Lease;
  /**
   * The lease after its due time passed (`expirationTime` of an ACTIVE lease,
   * `stateExpirationTime` otherwise), or `undefined` to leave it as it is.
   */
  expire(lease: Lease, now: number): Lease | undefined;
  /**
   * Optional: false when no lease of the pool can go to a new client now (this server's part
   * of it is used up), so that the allocator need not try every lease of the pool to find
   * out. True means "perhaps": the allocator then searches. Must never say false while
   * `mayAllocate` would accept some lease of the pool for a client that held none of them
   * (a client's own earlier leases are tried before any pool is searched).
   */
  room?(query: RoomQuery): boolean;
}

/** A pool as `FailoverPolicy.room` sees it. */
export interface RoomQuery {
  /** `na` (an address range) or `pd` (delegable prefixes). */
  kind: LeaseKind;
  /** The pool's name. */
  pool: string;
  /** Addresses or prefixes in the pool. */
  size: bigint;
  /** First and last address of an address range (`na`). */
  range?: { start: bigint; end: bigint };
  /** The relationship of the pool's subnet, `null` for none. */
  relationship: string | null;
  /** Leases of the pool with `status` (and `owner`, when given). */
  count(status: BindingStatus, owner?: PoolOwner): number;
}

/** Statuses a standalone server may hand to any client (everything but ACTIVE and ABANDONED). */
export const STANDALONE_REUSABLE: ReadonlySet<BindingStatus> = new Set<BindingStatus>([
  "EXPIRED",
  "RELEASED",
  "PENDING-FREE",
  "FREE",
  "FREE-BACKUP",
  "RESET",
]);

/**
 * No partner: answer everything, hand out anything not ACTIVE or ABANDONED, lifetimes as
 * configured, leases stored as given. Expiry: ACTIVE -> EXPIRED when the valid lifetime ends;
 * ABANDONED -> RESET (client forgotten) when its hold time ends; any other timer is cleared.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   compileSettings,
 *   defaultConfig,
 *   ServerCore,
 *   standalonePolicy,
 * } from "@failover6/failover6";
 *
 * const core = new ServerCore({
 *   settings: compileSettings(defaultConfig()),
 *   serverDuid: new Uint8Array([0, 3, 0, 1, 2, 0, 0, 0, 0, 0xaa]),
 * });
 * assert.equal(core.policy, standalonePolicy); // the default when no failover policy is given
 * ```
 */
export const standalonePolicy: FailoverPolicy = {
  name: "standalone",
  admits: () => true,
  mayAllocate: (c) => c.existing === undefined || STANDALONE_REUSABLE.has(c.existing.status),
  lifetimes: (q) => ({ preferred: Math.min(q.preferred, q.valid), valid: q.valid }),
  stamp: (after) => after,
  expire: (lease, now) => {
    if (lease.status === "ACTIVE") {
      return { ...lease, status: "EXPIRED", startTimeOfState: now, stateExpirationTime: 0 };
    }
    if (lease.status === "ABANDONED") {
      return {
        ...lease,
        status: "RESET",
        clientDuid: "",
        startTimeOfState: now,
        stateExpirationTime: 0,
      };
    }
    // Any other status with a timer (left by a former failover setup): nothing to do but
    // clear the timer so the lease stops coming due.
    return lease.stateExpirationTime === 0 ? undefined : { ...lease, stateExpirationTime: 0 };
  },
};

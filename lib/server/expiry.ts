/**
 * Expiry processing: leases whose due time has passed (the valid lifetime of an ACTIVE
 * lease, the state timer of any other) move on as the failover policy says — for a
 * standalone server ACTIVE -> EXPIRED, and a declined (ABANDONED) address -> RESET once its
 * hold time is over.
 *
 * @module
 */

import { dueTime } from "../store/lease.ts";
import type { Lease } from "../store/types.ts";
import { type FailoverPolicy, standalonePolicy } from "./policy.ts";
import type { LeaseChange } from "./types.ts";

/** True when `lease` needs expiry processing at `now`. */
export function isDue(lease: Lease, now: number): boolean {
  const due = dueTime(lease);
  return due > 0 && due <= now;
}

/**
 * The changes expiry makes to `leases` at `now` (leases not yet due are skipped). Pure: the
 * caller applies and commits them.
 */
export function expireLeases(
  leases: Iterable<Lease>,
  now: number,
  policy: FailoverPolicy = standalonePolicy,
): LeaseChange[] {
  const out: LeaseChange[] = [];
  for (const lease of leases) {
    if (!isDue(lease, now)) continue;
    const after = policy.expire(lease, now);
    if (after !== undefined) out.push({ before: lease, after });
  }
  return out;
}

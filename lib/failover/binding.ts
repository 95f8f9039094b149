/**
 * Binding (lease) states of RFC 8156 §7.2 (Figures 2–3, digest §4): wire codes, which statuses
 * carry a timeout, the transitions a failover endpoint makes on its own (PENDING-FREE and where
 * it leads), and the conversion between engine time (ms since the Unix epoch) and failover
 * absolute time on the wire (seconds since 2000-01-01).
 *
 * @module
 */

import { EPOCH_2000_UNIX_SECONDS, failoverTimeToUnix, unixToFailoverTime } from "../util/clock.ts";
import {
  BINDING_STATUS_CODE,
  BINDING_STATUSES,
  type BindingStatus,
  type Lease,
  type LeaseKey,
} from "../store/types.ts";
import { addressOwner } from "./pool.ts";

export type { BindingStatus };

/** OPTION_F_BINDING_STATUS code of a status (§5.5.1). */
export function bindingStatusCode(status: BindingStatus): number {
  return BINDING_STATUS_CODE[status];
}

/** The status of an OPTION_F_BINDING_STATUS code; `undefined` for 0 (reserved) and above 8. */
export function bindingStatusFromCode(code: number): BindingStatus | undefined {
  return Number.isInteger(code) && code >= 1 ? BINDING_STATUSES[code - 1] : undefined;
}

/**
 * Whether a status has a timeout in this implementation (§7.2 leaves it to the implementation):
 * only ACTIVE, whose timeout is the client's expiry. A BNDUPD carries
 * OPTION_F_STATE_EXPIRATION_TIME, OPTION_F_PARTNER_LIFETIME and OPTION_F_EXPIRATION_TIME iff
 * the status has a timeout (§7.4).
 */
export function statusHasTimeout(status: BindingStatus): boolean {
  return status === "ACTIVE";
}

/** The statuses that become PENDING-FREE once the partner acknowledges them (§7.2 (4)). */
export function leavesOnAck(status: BindingStatus): boolean {
  return status === "EXPIRED" || status === "RELEASED" || status === "RESET";
}

/**
 * Where PENDING-FREE leads (§7.2 (5), (6), §4.2.2): a delegated prefix (proportional
 * allocation) returns to the primary as FREE; an address (independent allocation) returns to
 * the owner of its half: FREE for the primary's (low-order bit 1), FREE-BACKUP for the
 * secondary's (bit 0). Figure 3 swaps these rows; the text wins (docs/decisions.md D1).
 */
export function pendingFreeTarget(lease: Pick<Lease, "kind" | "address">): BindingStatus {
  if (lease.kind === "pd") return "FREE";
  return addressOwner(lease.address) === "primary" ? "FREE" : "FREE-BACKUP";
}

/**
 * The lease after the partner acknowledged a BNDUPD that announced `status` (EXPIRED,
 * RELEASED or RESET): through PENDING-FREE (skipped, as §7.2 allows) to FREE or FREE-BACKUP,
 * with the new start-time-of-state. Other statuses are returned unchanged.
 *
 * Given this server's `role`, a lease that returns to the partner's pool (a delegated prefix
 * freed by the secondary goes back to the primary, §4.2.2; an address of the partner's half
 * one of them held in PARTNER-DOWN) is marked update-pending: the partner's copy still says
 * EXPIRED or RELEASED, which it may never hand to another client outside PARTNER-DOWN, so
 * without a BNDUPD saying FREE the lease would be lost to the pool (docs/decisions.md P17).
 */
export function afterAcknowledged(
  lease: Lease,
  now: number,
  role?: "primary" | "secondary",
): Lease {
  if (!leavesOnAck(lease.status)) return lease;
  const status = pendingFreeTarget(lease);
  const owner = lease.kind === "pd" ? "primary" : addressOwner(lease.address);
  return {
    ...lease,
    status,
    owner,
    startTimeOfState: now,
    stateExpirationTime: 0,
    ...(role !== undefined && owner !== role ? { updatePending: true } : {}),
  };
}

/**
 * A stable text key of a lease (or lease key; no length means 128): the address itself for an address (`2001:db8::1`: no new
 * string to make or hash, the common case), `pd 2001:db8:1::/48` for a prefix, and
 * `na 2001:db8::1/64` for an address with another length (not a valid lease, but keyed apart).
 */
export function leaseKeyText(l: Pick<LeaseKey, "kind" | "address" | "prefixLength">): string {
  const plen = l.prefixLength ?? 128;
  if (l.kind === "na" && plen === 128) return l.address;
  return `${l.kind} ${l.address}/${plen}`;
}

/** Failover absolute time (s since 2000, mod 2^32) of an engine time in ms; 0 stays 0. */
export function toWireTime(ms: number): number {
  if (ms <= 0) return 0;
  const s = Math.floor(ms / 1000);
  const t = s - EPOCH_2000_UNIX_SECONDS;
  // 2000 to 2136 needs no modulo (two floating-point remainders per call otherwise).
  return t >= 0 && t <= 0xffff_ffff ? t : unixToFailoverTime(s);
}

/** Engine time (ms since the Unix epoch) of a failover absolute time; 0 stays 0. */
export function fromWireTime(t: number): number {
  if (t <= 0) return 0;
  return failoverTimeToUnix(t) * 1000;
}

/**
 * The signed difference `a − b` in seconds between two failover absolute times, taking the
 * 2^32 wrap into account (the shorter way round).
 */
export function wireTimeDiff(a: number, b: number): number {
  let d = (a - b) % 0x1_0000_0000;
  if (d > 0x8000_0000) d -= 0x1_0000_0000;
  if (d < -0x8000_0000) d += 0x1_0000_0000;
  return d;
}
